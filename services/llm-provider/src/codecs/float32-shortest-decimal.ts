/**
 * The shortest round-trip decimal of a float32, as digits × 10^-scale.
 *
 * For a float32 `f` it is the decimal with the fewest significant digits that a client reading it
 * the usual way (JSON.parse or Python's float → a double, then → float32) gets back as exactly `f`;
 * among decimals of that length, the one closest to `f` (an exact tie goes to the even last digit).
 * That is what Ryu's f2s, numpy's float32 repr and OpenAI's float embeddings print: `0.012345679`
 * rather than the 17 digits of the widened double, `0.012345678918063641`.
 *
 * How: for a length of p digits, only the two p-digit decimals bracketing the value can be the
 * answer, the nearest first; which of them read back is a question of their distance to the value
 * against the half-gaps to its float32 neighbours (the round-trip interval), both measured in units
 * of the last digit with one rounded multiplication each, and decided only when clear of the
 * interval's edges (and of ties) by a margin far larger than every rounding error involved. Whether
 * some p-digit decimal reads back is monotone in p, so a couple of lengths around the likely answer
 * settle it, with no division and no allocation. The rare value with a decision inside the margin
 * (and exact ties such as 2097152.25 at 8 digits) goes to an exact BigInt path that parses each
 * candidate as a reader would.
 */

/**
 * POW10[s + POW10_OFFSET] is the double nearest 10^s, for every scale the search uses:
 * s = p - 1 - k with p = 1 … 9 digits and 10^k <= |value| < 10^(k+1), k = -45 … 38.
 */
const POW10_OFFSET = 38;
const POW10 = Float64Array.from({ length: 53 + POW10_OFFSET + 1 }, (_, index) =>
  Number(`1e${index - POW10_OFFSET}`),
);

/**
 * The slack, in units of the last digit, kept around every decision of the search; within it a
 * slower check decides (`closestAt`, then the exact path). It covers, with room to spare, the error
 * of the rounded product value × 10^s (two roundings of a number below 2^30: under 2^-22) and where
 * a reader's double rounding puts the edge of the round-trip interval (half a double ulp of the
 * float32 midpoint: under 2^-23).
 */
const MARGIN = 2 ** -20;

/** `closestAt` results besides digits: no decimal of that length reads back; cannot decide here. */
const NONE = -1;
const UNDECIDED = -2;

/** Verdicts on one candidate decimal. */
const PASS = 0;
const FAIL = 1;
const UNSURE = 2;

/**
 * A scratch slot to move between a float32 and its bits. Bits travel as int32 (sign in bit 31): small
 * integers, never boxed, where a double passed to a function that is not inlined would be.
 */
const scratchFloat = new Float32Array(1);
const scratchBits = new Int32Array(scratchFloat.buffer);

function float32FromBits(bits: number): number {
  scratchBits[0] = bits;
  return scratchFloat[0]!;
}

/** The bit pattern (as an int32) of `value` rounded to float32. */
export function float32Bits(value: number): number {
  scratchFloat[0] = value;
  return scratchBits[0]!;
}

/** A positive finite float32 as mantissa × 2^exponent2, both integers. */
function float32Mantissa(bits: number): number {
  const biased = bits >>> 23;
  return biased === 0 ? bits & 0x7fffff : (bits & 0x7fffff) | 0x800000;
}

function float32Exponent2(bits: number): number {
  const biased = bits >>> 23;
  return (biased === 0 ? 1 : biased) - 150;
}

/** Exact test of a positive finite float32 >= 10^k. */
function float32AtLeastPow10(bits: number, exponent10: number): boolean {
  const exponent2 = float32Exponent2(bits);
  let left = BigInt(float32Mantissa(bits));
  let right = 1n;
  if (exponent2 >= 0) left <<= BigInt(exponent2);
  else right <<= BigInt(-exponent2);
  if (exponent10 >= 0) right *= 10n ** BigInt(exponent10);
  else left *= 10n ** BigInt(-exponent10);
  return left >= right;
}

/**
 * THRESHOLDS[k + THRESHOLD_OFFSET] is the least float32 >= 10^k (Infinity past the largest), for
 * k = -45 … 39: comparing with it gives a value's decimal exponent exactly (the double nearest 10^k
 * would not do). Built once with BigInt, by bisection over positive float32 bit patterns.
 */
const THRESHOLD_OFFSET = 45;
const THRESHOLDS = Float64Array.from({ length: 39 + THRESHOLD_OFFSET + 1 }, (_, index) => {
  const exponent10 = index - THRESHOLD_OFFSET;
  let below = 0; // bits of a value < 10^k (+0)
  let atLeast = 0x7f800000; // bits of a value >= 10^k (+Infinity)
  while (atLeast - below > 1) {
    const middle = below + Math.floor((atLeast - below) / 2);
    if (float32AtLeastPow10(middle, exponent10)) atLeast = middle;
    else below = middle;
  }
  return float32FromBits(atLeast);
});

/** The decimal exponent k of a positive finite float32 (10^k <= value < 10^(k+1)), from its bits. */
function decimalExponent(bits: number): number {
  const value = float32FromBits(bits);
  const biased = bits >>> 23;
  // The binary exponent E (2^E <= value < 2^(E+1)); floor(E × log10 2) is k or k - 1. In integer
  // arithmetic (as Ryu does it; equal for every |E| <= 1650): a double used as an index is slow.
  const binary = biased === 0 ? -118 - Math.clz32(bits) : biased - 127;
  const estimate = (binary * 78913) >> 18;
  return value >= THRESHOLDS[estimate + 1 + THRESHOLD_OFFSET]! ? estimate + 1 : estimate;
}

/**
 * Half the gap to the next float32 up, by biased exponent: reading back gives `value` for decimals
 * closer than that (at exactly that distance: when the mantissa is even). Below a power of two the
 * gap is half as wide; denormals share the smallest normals' gap.
 */
const HALF_GAP = Float64Array.from({ length: 255 }, (_, biased) => 2 ** ((biased === 0 ? 1 : biased) - 151));

/**
 * The search's answer, digits × 10^-scale, in a typed array: module-level `let` numbers would be
 * boxed, allocating on every write.
 */
const result = new Int32Array(2);
const DIGITS = 0;
const SCALE = 1;

/**
 * Whether digits × 10^-scale reads back as the float32 `bits`, by the reader's own arithmetic where
 * that is exact: an integer below 2^53 and 10^|scale| <= 10^22 are exact doubles, so their IEEE
 * quotient or product is the correctly rounded double of the decimal, what JSON.parse gives. UNSURE
 * beyond. Decimals exactly on an interval edge (a float32 midpoint, e.g. 54896470 for 54896472)
 * come here.
 */
function readsBack(bits: number, digits: number, scale: number): number {
  if (scale > 22 || scale < -22) return UNSURE;
  const read = scale >= 0 ? digits / POW10[scale + POW10_OFFSET]! : digits * POW10[POW10_OFFSET - scale]!;
  return Math.fround(read) === float32FromBits(bits) ? PASS : FAIL;
}

/**
 * Of the two decimals d × 10^-scale bracketing the positive float32 `bits`, the closest that reads
 * back as it; NONE when neither does; UNDECIDED when the arithmetic here cannot say (see `readsBack`)
 * or the two are too near a tie. The careful version of the step in `shortestFast`, for when a
 * verdict there falls within the margin.
 */
function closestAt(bits: number, scale: number): number {
  const value = float32FromBits(bits);
  const biased = bits >>> 23;
  const gapAbove = HALF_GAP[biased]!;
  const gapBelow = (bits & 0x7fffff) === 0 && biased > 1 ? gapAbove / 2 : gapAbove;
  const power = POW10[scale + POW10_OFFSET]!;
  const scaled = value * power;
  const below = Math.floor(scaled);
  const fraction = scaled - below;
  const belowExcess = fraction - gapBelow * power;
  const aboveExcess = 1 - fraction - gapAbove * power;
  let belowVerdict = belowExcess < -MARGIN ? PASS : belowExcess > MARGIN ? FAIL : UNSURE;
  let aboveVerdict = aboveExcess < -MARGIN ? PASS : aboveExcess > MARGIN ? FAIL : UNSURE;
  if (belowVerdict === UNSURE) belowVerdict = readsBack(bits, below, scale);
  if (aboveVerdict === UNSURE) aboveVerdict = readsBack(bits, below + 1, scale);
  if (belowVerdict === UNSURE || aboveVerdict === UNSURE) return UNDECIDED;
  if (belowVerdict === PASS && aboveVerdict === PASS) {
    // The nearer; with 0 <= scale <= 12 the product is exact (24-bit mantissa × 5^scale < 2^53), so
    // is the fraction, and an exact tie (2097152.25 at 8 digits) goes to the even digit, as Ryu's.
    const exact = scale >= 0 && scale <= 12;
    if (fraction < 0.5 - MARGIN || (exact && fraction < 0.5)) return below | 0;
    if (fraction > 0.5 + MARGIN || (exact && fraction > 0.5)) return (below + 1) | 0;
    if (exact) return (below % 2 === 0 ? below : below + 1) | 0;
    return UNDECIDED; // too near a tie to tell
  }
  return belowVerdict === PASS ? below | 0 : aboveVerdict === PASS ? (below + 1) | 0 : NONE;
}

/** Sets the answer, dropping trailing zeros (only a 10^p bracket, or a longer grid's answer, has them). */
function setResult(digits: number, scale: number): void {
  while (digits % 10 === 0) {
    digits = (digits / 10) | 0; // stays int32: a double here would make every `%` a call to fmod
    scale--;
  }
  result[DIGITS] = digits;
  result[SCALE] = scale;
}

/**
 * The shortest digits for the positive finite float32 with bit pattern `bits` and decimal exponent
 * `exponent10`, into `result`; false when the rounded arithmetic cannot decide (the caller then takes
 * the exact path). Only integers come in, so no double is boxed for the call. Whether some
 * p-digit decimal reads back is monotone in p (a shorter one lies on the longer grid, and the
 * round-trip interval is convex), so: try 8 digits, where most values land; if none reads back the
 * answer has 9 (always enough for a float32); otherwise shorten until a length fails. A trailing
 * zero in a result skips lengths.
 */
function shortestFast(bits: number, exponent10: number): boolean {
  const value = float32FromBits(bits);
  const biased = bits >>> 23;
  const gapAbove = HALF_GAP[biased]!;
  // Only at a power of two (no fraction bits; not the smallest normal) is the gap below narrower.
  const gapBelow = (bits & 0x7fffff) === 0 && biased > 1 ? gapAbove / 2 : gapAbove;
  const eightDigits = 7 - exponent10;
  let scale = eightDigits;
  let found = false;
  for (;;) {
    // The two decimals d × 10^-scale bracketing the value: d = below and below + 1. For each, its
    // distance minus the half-width of the interval on its side, in units of d: below zero it reads
    // back. The widths are exact (a power of two times `power`), the rest off by far less than MARGIN.
    const power = POW10[scale + POW10_OFFSET]!;
    const scaled = value * power;
    const below = Math.floor(scaled);
    const fraction = scaled - below; // exact
    const belowExcess = fraction - gapBelow * power;
    const aboveExcess = 1 - fraction - gapAbove * power;
    let digits: number;
    if (belowExcess > MARGIN && aboveExcess > MARGIN) digits = NONE;
    else if (belowExcess < -MARGIN && aboveExcess > MARGIN) digits = below | 0;
    else if (aboveExcess < -MARGIN && belowExcess > MARGIN) digits = (below + 1) | 0;
    else if (belowExcess < -MARGIN && aboveExcess < -MARGIN && Math.abs(fraction - 0.5) > MARGIN) {
      digits = (fraction < 0.5 ? below : below + 1) | 0; // both read back: the nearer
    } else {
      digits = closestAt(bits, scale); // a verdict within the margin
      if (digits === UNDECIDED) return false;
    }
    if (digits === NONE) {
      if (found) return true; // the last answer, one length up, is the shortest
      if (scale !== eightDigits) return false; // 9 digits failing: never for a float32
      scale++;
      continue;
    }
    setResult(digits, scale);
    if (scale !== eightDigits && !found) return true; // 9 digits, after 8 failed
    if (result[DIGITS]! < 10) return true;
    found = true;
    scale = result[SCALE]! - 1;
  }
}

/**
 * The same answer by exact arithmetic, for any positive finite float32: for p = 1 … 9, the two
 * p-digit brackets by BigInt division, nearest first (on an exact tie: the even one), each checked by
 * parsing its text as a reader would. Allocates; taken only when `shortestFast` cannot decide.
 */
function shortestExact(bits: number, exponent10: number): void {
  const value = float32FromBits(bits);
  const mantissa = BigInt(float32Mantissa(bits));
  const exponent2 = float32Exponent2(bits);
  for (let length = 1; length <= 9; length++) {
    const scale = length - 1 - exponent10;
    // value × 10^scale = numerator / denominator exactly.
    let numerator = mantissa;
    let denominator = 1n;
    if (exponent2 >= 0) numerator <<= BigInt(exponent2);
    else denominator <<= BigInt(-exponent2);
    if (scale >= 0) numerator *= 10n ** BigInt(scale);
    else denominator *= 10n ** BigInt(-scale);
    const below = numerator / denominator;
    const twiceRemainder = 2n * (numerator - below * denominator);
    const aboveFirst = twiceRemainder > denominator || (twiceRemainder === denominator && below % 2n === 1n);
    for (const candidate of aboveFirst ? [below + 1n, below] : [below, below + 1n]) {
      if (Math.fround(Number(`${candidate}e${-scale}`)) === value) {
        setResult(Number(candidate), scale);
        return;
      }
    }
  }
  throw new Error(`no float32 round-trip text found for ${value}`); // 9 digits always suffice
}

/**
 * The digits of the shortest round-trip decimal of the positive finite float32 with bit pattern
 * `bits` (as an int32); `shortestDecimalScale()` gives its scale until the next call. Two int32
 * results rather than an object: nothing allocated per value.
 */
export function shortestDecimalDigits(bits: number): number {
  const exponent10 = decimalExponent(bits);
  if (!shortestFast(bits, exponent10)) shortestExact(bits, exponent10);
  return result[DIGITS]!;
}

/** The scale of the decimal the last `shortestDecimalDigits` found: its value is digits × 10^-scale. */
export function shortestDecimalScale(): number {
  return result[SCALE]!;
}
