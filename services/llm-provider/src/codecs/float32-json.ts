/**
 * Shortest round-trip JSON text for float32 values, written as ASCII straight into a byte buffer.
 *
 * The text for a float32 `f` is the decimal with the fewest significant digits that a client reading
 * it the usual way (JSON.parse or Python's float → a double, then → float32) gets back as exactly
 * `f`; among decimals of that length, the one closest to `f` (an exact tie goes to the even last
 * digit). That is what Ryu's f2s, numpy's float32 repr and OpenAI's float embeddings print:
 * `0.012345679` rather than the 17 digits of the widened double, `0.012345678918063641`.
 *
 * Layout follows `Number.prototype.toString`: fixed notation for 1e-6 <= |v| < 1e21, otherwise
 * exponent form (`1e-7`, `1.5e-10`, `1e+21`, `-3.4028235e+38`). NaN and ±Infinity are written as
 * `null`, and -0 as `0`, as JSON.stringify does.
 *
 * How: for a length of p digits, only the two p-digit decimals bracketing the value can be the
 * answer, the nearest first; which of them read back is a question of their distance to the value
 * against the half-gaps to its float32 neighbours (the round-trip interval), both measured in units
 * of the last digit with one rounded multiplication each, and decided only when clear of the
 * interval's edges (and of ties) by a margin far larger than every rounding error involved. Whether
 * some p-digit decimal reads back is monotone in p, so a couple of lengths around the likely answer
 * settle it, with no division and no allocation. The rare value with a decision inside the margin
 * (about one in a million, and exact ties such as 2097152.25 at 8 digits) goes to an exact BigInt
 * path that parses each candidate as a reader would.
 */

/**
 * Most bytes one float32 can take as JSON text. More than exponent form's 15 ("-1.17549435e-38"):
 * toString's fixed notation runs to 21 digits below 1e21, e.g. "-123456780000000000000".
 */
export const FLOAT32_JSON_MAX_BYTES = 22;

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
 * slower check decides (`closestAt`, then the exact path). It covers, with room to spare, the error of the rounded product value × 10^s
 * (two roundings of a number below 2^30: under 2^-22) and where a reader's double rounding puts the
 * edge of the round-trip interval (half a double ulp of the float32 midpoint: under 2^-23).
 */
const MARGIN = 2 ** -20;

/** `closestAt` results besides digits: no decimal of that length reads back; cannot decide here. */
const NONE = -1;
const UNDECIDED = -2;

/** Verdicts on one candidate decimal. */
const PASS = 0;
const FAIL = 1;
const UNSURE = 2;

const CHAR_0 = 0x30;
const CHAR_MINUS = 0x2d;
const CHAR_PLUS = 0x2b;
const CHAR_DOT = 0x2e;
const CHAR_E = 0x65;
const CHAR_COMMA = 0x2c;
const NULL_BYTES = [0x6e, 0x75, 0x6c, 0x6c] as const;

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

/** How many decimal digits a positive integer below 10^9 has. */
function digitCount(digits: number): number {
  if (digits < 10_000) return digits < 10 ? 1 : digits < 100 ? 2 : digits < 1000 ? 3 : 4;
  if (digits < 10_000_000) return digits < 100_000 ? 5 : digits < 1_000_000 ? 6 : 7;
  return digits < 100_000_000 ? 8 : 9;
}

/** "00" … "99" as ASCII pairs: two digits per division. */
const DIGIT_PAIRS = Uint8Array.from({ length: 200 }, (_, index) =>
  index % 2 === 0 ? CHAR_0 + Math.floor(index / 20) : CHAR_0 + (((index - 1) / 2) % 10),
);

/**
 * Writes the low `count` digits of `digits` (a non-negative int32) ending just before `end`;
 * returns the digits left above them. Four digits per step, as two independent pair look-ups, so
 * that only one division per step is on the dependency chain.
 */
function writeDigitsBackward(bytes: Uint8Array, end: number, digits: number, count: number): number {
  for (; count >= 4; count -= 4) {
    const high = (digits / 10_000) | 0;
    const group = digits - high * 10_000;
    const upper = (group / 100) | 0;
    const lowerPair = (group - upper * 100) * 2;
    const upperPair = upper * 2;
    bytes[end - 1] = DIGIT_PAIRS[lowerPair + 1]!;
    bytes[end - 2] = DIGIT_PAIRS[lowerPair]!;
    bytes[end - 3] = DIGIT_PAIRS[upperPair + 1]!;
    bytes[end - 4] = DIGIT_PAIRS[upperPair]!;
    end -= 4;
    digits = high;
  }
  for (; count > 0; count--) {
    const quotient = (digits / 10) | 0;
    bytes[--end] = CHAR_0 + digits - quotient * 10;
    digits = quotient;
  }
  return digits;
}

function writeZeros(bytes: Uint8Array, offset: number, count: number): number {
  for (let index = 0; index < count; index++) bytes[offset + index] = CHAR_0;
  return offset + count;
}

/**
 * Lays out digits × 10^-scale as Number.prototype.toString would (ECMA-262 Number::toString, with
 * k digits and the point after n of them).
 */
function writeDecimal(bytes: Uint8Array, offset: number, digits: number, scale: number): number {
  const count = digitCount(digits); // k
  const point = count - scale; // n: the value is 0.d1d2…dk × 10^n
  if (count <= point && point <= 21) {
    writeDigitsBackward(bytes, offset + count, digits, count);
    return writeZeros(bytes, offset + count, point - count);
  }
  if (0 < point && point <= 21) {
    const end = offset + count + 1;
    const high = writeDigitsBackward(bytes, end, digits, count - point);
    bytes[offset + point] = CHAR_DOT;
    writeDigitsBackward(bytes, offset + point, high, point);
    return end;
  }
  if (-6 < point && point <= 0) {
    bytes[offset] = CHAR_0;
    bytes[offset + 1] = CHAR_DOT;
    const start = writeZeros(bytes, offset + 2, -point);
    writeDigitsBackward(bytes, start + count, digits, count);
    return start + count;
  }
  let end = offset + 1;
  if (count > 1) {
    end = offset + count + 1;
    const first = writeDigitsBackward(bytes, end, digits, count - 1);
    bytes[offset + 1] = CHAR_DOT;
    bytes[offset] = CHAR_0 + first;
  } else {
    bytes[offset] = CHAR_0 + digits;
  }
  const exponent = point - 1;
  bytes[end] = CHAR_E;
  bytes[end + 1] = exponent < 0 ? CHAR_MINUS : CHAR_PLUS;
  const magnitude = exponent < 0 ? -exponent : exponent;
  const exponentDigits = magnitude < 10 ? 1 : 2;
  writeDigitsBackward(bytes, end + 2 + exponentDigits, magnitude, exponentDigits);
  return end + 2 + exponentDigits;
}

/** The core, for the float32 whose bit pattern is `bits` (as an int32). */
function writeFloat32Bits(bits: number, bytes: Uint8Array, offset: number): number {
  if ((bits & 0x7f800000) === 0x7f800000) {
    for (let index = 0; index < 4; index++) bytes[offset + index] = NULL_BYTES[index]!;
    return offset + 4;
  }
  const positiveBits = bits & 0x7fffffff;
  if (positiveBits === 0) {
    bytes[offset] = CHAR_0; // -0 too, as JSON.stringify writes it
    return offset + 1;
  }
  if (bits < 0) bytes[offset++] = CHAR_MINUS;
  const exponent10 = decimalExponent(positiveBits);
  if (!shortestFast(positiveBits, exponent10)) shortestExact(positiveBits, exponent10);
  return writeDecimal(bytes, offset, result[DIGITS]!, result[SCALE]!);
}

/**
 * Writes the shortest JSON number text that parses (JSON.parse → double → Math.fround) back to
 * exactly `value`'s float32; NaN/±Infinity as `null`, -0 as `0` (as JSON.stringify does). Returns the
 * offset after the last byte written (at most FLOAT32_JSON_MAX_BYTES). `value` must already be a
 * float32 value (e.g. read from a Float32Array); any other double is first rounded to float32.
 */
export function writeFloat32Json(value: number, bytes: Uint8Array, offset: number): number {
  scratchFloat[0] = value;
  return writeFloat32Bits(scratchBits[0]!, bytes, offset);
}

const textBuffer = new Uint8Array(FLOAT32_JSON_MAX_BYTES);

/** Same text as a string (for tests and small uses). */
export function float32ToJsonText(value: number): string {
  const end = writeFloat32Json(value, textBuffer, 0);
  return String.fromCharCode(...textBuffer.subarray(0, end));
}

/** Bytes needed at most for a JSON array of `length` float32 values: "[" + values + commas + "]". */
export function float32JsonArrayMaxBytes(length: number): number {
  return 2 + length * FLOAT32_JSON_MAX_BYTES + Math.max(0, length - 1);
}

/** Writes `[v0,v1,...]` for the vector; returns the offset after "]". */
export function writeFloat32JsonArray(vector: Float32Array, bytes: Uint8Array, offset: number): number {
  // The bits of every value, read in place (a Float32Array is always 4-byte aligned).
  const bits = new Int32Array(vector.buffer, vector.byteOffset, vector.length);
  bytes[offset++] = 0x5b; // [
  for (let index = 0; index < vector.length; index++) {
    if (index > 0) bytes[offset++] = CHAR_COMMA;
    offset = writeFloat32Bits(bits[index]!, bytes, offset);
  }
  bytes[offset++] = 0x5d; // ]
  return offset;
}
