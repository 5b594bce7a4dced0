import { describe, expect, it } from "vitest";
import {
  FLOAT32_JSON_MAX_BYTES,
  float32JsonArrayMaxBytes,
  float32ToJsonText,
  writeFloat32Json,
  writeFloat32JsonArray,
} from "./float32-json.js";

const scratchFloat = new Float32Array(1);
const scratchBits = new Uint32Array(scratchFloat.buffer);

function fromBits(bits: number): number {
  scratchBits[0] = bits;
  return scratchFloat[0]!;
}

function bitsOf(value: number): number {
  scratchFloat[0] = value;
  return scratchBits[0]!;
}

/** A seeded generator of 32-bit patterns (mulberry32): the same cases on every run. */
function randomBits(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), state | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return (mixed ^ (mixed >>> 14)) >>> 0;
  };
}

/** A random finite float32 from uniform bit patterns: every exponent, denormals included. */
function randomFiniteFloat32(next: () => number): number {
  for (;;) {
    const value = fromBits(next());
    if (Number.isFinite(value)) return value;
  }
}

/** What a client does with the text: JSON.parse to a double, then to float32. */
function readBack(text: string): number {
  return Math.fround(JSON.parse(text) as number);
}

/** A positive float32 exactly as m × 2^e. */
function dyadic(value: number): { mantissa: bigint; exponent2: number } {
  const bits = bitsOf(value) & 0x7fffffff;
  const biased = bits >>> 23;
  const fraction = bits & 0x7fffff;
  return {
    mantissa: BigInt(biased === 0 ? fraction : fraction | 0x800000),
    exponent2: (biased === 0 ? 1 : biased) - 150,
  };
}

/** Exact sign of digits × 10^exponent10 − value × 2^doublings, for positive `value`. */
function compareDecimal(digits: bigint, exponent10: number, value: number, doublings = 0): number {
  const { mantissa, exponent2: valueExponent2 } = dyadic(value);
  const exponent2 = valueExponent2 + doublings;
  let left = digits;
  let right = mantissa;
  if (exponent10 >= 0) left *= 10n ** BigInt(exponent10);
  else right *= 10n ** BigInt(-exponent10);
  if (exponent2 >= 0) right <<= BigInt(exponent2);
  else left <<= BigInt(-exponent2);
  return left === right ? 0 : left > right ? 1 : -1;
}

/** toPrecision text → digits × 10^exponent10 (digits as an integer, trailing zeros kept). */
function parsePrecision(text: string): { digits: bigint; exponent10: number } {
  const [significand = "", exponentText] = text.split("e");
  const [whole = "", fractional = ""] = significand.split(".");
  return {
    digits: BigInt(whole + fractional),
    exponent10: Number(exponentText ?? 0) - fractional.length,
  };
}

/**
 * The slow reference: for p = 1 … 9, toPrecision(p) (the nearest p-digit decimal) and its grid
 * neighbours, kept when JSON.parse + fround gives the value back; the closest kept one by exact
 * BigInt distance, an exact tie to the even digit. Its layout is what toString gives for the double
 * of that decimal (a decimal of at most 15 digits is the shortest text of its nearest double).
 */
function referenceText(value: number): string {
  if (!Number.isFinite(value)) return "null";
  if (value === 0) return "0";
  const magnitude = Math.abs(value);
  for (let length = 1; length <= 9; length++) {
    const { digits, exponent10 } = parsePrecision(magnitude.toPrecision(length));
    const passing = [digits - 1n, digits, digits + 1n].filter(
      (candidate) => candidate > 0n && Math.fround(Number(`${candidate}e${exponent10}`)) === magnitude,
    );
    if (passing.length === 0) continue;
    let best = passing[0]!;
    for (const candidate of passing.slice(1)) {
      const difference = compareCloseness(candidate, best, exponent10, magnitude);
      if (difference < 0 || (difference === 0 && candidate % 2n === 0n)) best = candidate;
    }
    return (value < 0 ? "-" : "") + String(Number(`${best}e${exponent10}`));
  }
  throw new Error(`reference found no text for ${value}`);
}

/** Exact sign of |a × 10^k − v| − |b × 10^k − v|. */
function compareCloseness(a: bigint, b: bigint, exponent10: number, value: number): number {
  // Twice the value against a + b: the midpoint decides which is nearer.
  const sideA = compareDecimal(a, exponent10, value);
  const sideB = compareDecimal(b, exponent10, value);
  if (sideA === sideB) return sideA * (a > b ? 1 : -1); // same side: the one nearer the value wins
  const midpoint = compareDecimal(a + b, exponent10, value, 1); // sign of (a+b)/2 × 10^k − v
  if (midpoint === 0) return 0;
  // The midpoint lies on a's side of the value → a is farther.
  return midpoint > 0 === a > b ? 1 : -1;
}

/** Significant digits of a JSON number text. */
function significantDigits(text: string): string {
  const significand = text.replace(/^-/, "").split("e")[0]!.replace(".", "");
  return significand.replace(/^0+/, "").replace(/0+$/, "");
}

// Exhaustive and random sweeps of millions of values: 3–15 s each on the 2-core CI runner, longer
// while other test files load it; the default 20 s timeout is a hang guard, too tight for them.
const SWEEP_TIMEOUT_MS = 120_000;

describe("float32ToJsonText", { timeout: SWEEP_TIMEOUT_MS }, () => {
  it("matches Ryu / numpy float32 repr on known values", () => {
    const known: [number, string][] = [
      [Math.fround(0.1), "0.1"],
      [Math.fround(1 / 3), "0.33333334"],
      [Math.fround(Math.PI), "3.1415927"],
      [Math.fround(Math.E), "2.7182817"],
      [3.4028234663852886e38, "3.4028235e+38"],
      [1.401298464324817e-45, "1e-45"],
      [1.1754943508222875e-38, "1.1754944e-38"], // min normal: numpy finfo(float32).tiny
      [1.1754942106924411e-38, "1.1754942e-38"], // max denormal
      [Math.fround(0.012345678918063641), "0.012345679"],
      [Math.fround(-0.2), "-0.2"],
      [Math.fround(1e-7), "1e-7"],
      [Math.fround(1.5e-7), "1.5e-7"],
      [Math.fround(1e21), "1e+21"],
      [Math.fround(123456.789), "123456.79"],
      [16777216, "16777216"],
      [16777218, "16777218"],
      [33554436, "33554436"],
      [2097152.25, "2097152.2"], // an exact tie at 8 digits: Ryu rounds it to even
      [2097152.75, "2097152.8"],
    ];
    for (const [value, text] of known) expect(float32ToJsonText(value), String(value)).toBe(text);
  });

  it("writes 0 for both zeros and null for NaN and the infinities, as JSON.stringify does", () => {
    expect(float32ToJsonText(0)).toBe("0");
    expect(float32ToJsonText(-0)).toBe("0");
    expect(float32ToJsonText(NaN)).toBe("null");
    expect(float32ToJsonText(Infinity)).toBe("null");
    expect(float32ToJsonText(-Infinity)).toBe("null");
    expect(float32ToJsonText(1)).toBe("1");
    expect(float32ToJsonText(-1)).toBe("-1");
  });

  it("switches notation where Number.prototype.toString does", () => {
    // 1e-6 is the last fixed-notation power of ten below one; 1e21 the first exponent form above.
    expect(float32ToJsonText(Math.fround(1e-6))).toBe("0.000001");
    expect(float32ToJsonText(Math.fround(-1.2345678e-6))).toBe("-0.0000012345678");
    expect(float32ToJsonText(Math.fround(9.999999e-7))).toBe("9.999999e-7");
    expect(float32ToJsonText(Math.fround(1e20))).toBe("100000000000000000000");
    expect(float32ToJsonText(Math.fround(-1.2345678e20))).toBe("-123456780000000000000");
    expect(float32ToJsonText(Math.fround(9.999999e20))).toBe("999999900000000000000");
    expect(float32ToJsonText(Math.fround(1.0000001e21))).toBe("1.0000001e+21");
  });

  it("is right at the edges: powers of two and ten, range limits, denormals", () => {
    const values: number[] = [];
    for (let exponent = -149; exponent <= 127; exponent++) {
      const power = 2 ** exponent;
      values.push(power, Math.fround(power * (1 + 2 ** -23)), Math.fround(power * (2 - 2 ** -23)));
      const bits = bitsOf(power);
      if (bits > 0) values.push(fromBits(bits - 1), fromBits(bits + 1));
    }
    for (let exponent = -45; exponent <= 38; exponent++) {
      const nearest = Math.fround(Number(`1e${exponent}`));
      const bits = bitsOf(nearest);
      for (let step = -3; step <= 3; step++) values.push(fromBits(bits + step));
    }
    for (let bits = 1; bits <= 4096; bits++) values.push(fromBits(bits)); // smallest denormals
    for (let bits = 0x7f7fffff - 4096; bits <= 0x7f7fffff; bits++) values.push(fromBits(bits)); // largest
    for (let bits = 0x00800000 - 2048; bits <= 0x00800000 + 2048; bits++) values.push(fromBits(bits));
    for (const value of values.filter((value) => value > 0 && Number.isFinite(value))) {
      for (const signed of [value, -value]) {
        const text = float32ToJsonText(signed);
        expect(text, String(signed)).toBe(referenceText(signed));
        expect(readBack(text)).toBe(signed);
      }
    }
  });

  it("agrees with the slow reference on random bit patterns over all exponents", () => {
    const next = randomBits(0x5eed);
    for (let index = 0; index < 150_000; index++) {
      const value = randomFiniteFloat32(next);
      const text = float32ToJsonText(value);
      if (text !== referenceText(value)) expect(text, String(value)).toBe(referenceText(value));
    }
  });

  it("agrees with the slow reference on embedding-like values (|v| in [1e-6, 1])", () => {
    const next = randomBits(0xe3bed);
    for (let index = 0; index < 100_000; index++) {
      const magnitude = Math.fround(10 ** (-6 * (next() / 2 ** 32)));
      const value = next() % 2 === 0 ? magnitude : -magnitude;
      const text = float32ToJsonText(value);
      if (text !== referenceText(value)) expect(text, String(value)).toBe(referenceText(value));
    }
  });

  it("round-trips, is shortest and is laid out like toString, for 1.5 million random bit patterns", () => {
    const next = randomBits(0xf10a7);
    const bytes = new Uint8Array(FLOAT32_JSON_MAX_BYTES + 8);
    let failures = 0;
    for (let index = 0; index < 1_500_000; index++) {
      const value = randomFiniteFloat32(next);
      const end = writeFloat32Json(value, bytes, 3);
      const text = String.fromCharCode(...bytes.subarray(3, end));
      const parsed = JSON.parse(text) as number;
      const digits = significantDigits(text);
      const magnitude = Math.abs(value);
      // One digit shorter: neither decimal bracketing the value may read back as it.
      let shorterWorks = false;
      if (digits.length > 1) {
        const { digits: nearest, exponent10 } = parsePrecision(magnitude.toPrecision(digits.length - 1));
        for (const candidate of [nearest - 1n, nearest, nearest + 1n]) {
          if (Math.fround(Number(`${candidate}e${exponent10}`)) === magnitude) shorterWorks = true;
        }
      }
      const ok =
        end - 3 <= FLOAT32_JSON_MAX_BYTES &&
        Math.fround(parsed) === (value === 0 ? 0 : value) &&
        String(parsed) === (text === "0" ? "0" : text) &&
        !shorterWorks;
      if (!ok) {
        failures++;
        expect({ value, text, shorterWorks }).toEqual({
          value,
          text: referenceText(value),
          shorterWorks: false,
        });
      }
    }
    expect(failures).toBe(0);
  });

  it("round-trips for every value of a few whole binades in the embedding range", () => {
    for (const start of [2 ** -7, 2 ** -20]) {
      const first = bitsOf(start);
      const bytes = new Uint8Array(FLOAT32_JSON_MAX_BYTES);
      for (let bits = first; bits < first + 0x800000; bits += 7) {
        const value = fromBits(bits);
        const end = writeFloat32Json(value, bytes, 0);
        const text = String.fromCharCode(...bytes.subarray(0, end));
        if (readBack(text) !== value) expect(readBack(text), text).toBe(value);
      }
    }
  });
});

describe("writeFloat32Json", () => {
  it("writes at the offset, leaves the bytes around it alone and returns the end", () => {
    const bytes = new Uint8Array(32).fill(0x21);
    const end = writeFloat32Json(Math.fround(-0.012345679), bytes, 5);
    expect(end).toBe(5 + "-0.012345679".length);
    expect(Buffer.from(bytes.subarray(5, end)).toString("latin1")).toBe("-0.012345679");
    expect(bytes[4]).toBe(0x21);
    expect(bytes[end]).toBe(0x21);
  });

  it("never takes more than FLOAT32_JSON_MAX_BYTES, which the longest texts reach", () => {
    expect(FLOAT32_JSON_MAX_BYTES).toBe(22);
    expect(float32ToJsonText(Math.fround(-1.2345678e20))).toHaveLength(22);
    expect(float32ToJsonText(Math.fround(-1.17549435e-38))).toHaveLength(14);
    expect(float32ToJsonText(Math.fround(-1.2345678e-6))).toHaveLength(16);
  });
});

describe("writeFloat32JsonArray", () => {
  function vectorOf(length: number, seed: number): Float32Array {
    const next = randomBits(seed);
    const vector = new Float32Array(length);
    for (let index = 0; index < length; index++) {
      // Embedding-like: mostly small magnitudes, some odd ones thrown in.
      vector[index] = index % 97 === 0 ? fromBits(next()) : ((next() / 2 ** 32) * 2 - 1) * 0.1;
    }
    return vector;
  }

  it("writes the values joined by commas in brackets, within the size bound", () => {
    for (const vector of [
      vectorOf(1536, 1),
      vectorOf(1, 2),
      new Float32Array(0),
      new Float32Array([NaN, -0, 1e-45, -3.4028235e38, Infinity, 0.1]),
    ]) {
      const expected = "[" + Array.from(vector, float32ToJsonText).join(",") + "]";
      const bound = float32JsonArrayMaxBytes(vector.length);
      const bytes = new Uint8Array(bound + 10).fill(0x21);
      const end = writeFloat32JsonArray(vector, bytes, 4);
      expect(Buffer.from(bytes.subarray(4, end)).toString("latin1")).toBe(expected);
      expect(end - 4).toBeLessThanOrEqual(bound);
      expect(bytes[3]).toBe(0x21);
      expect(bytes[end]).toBe(0x21);
      const parsed = JSON.parse(expected) as (number | null)[];
      const back = Float32Array.from(parsed, (value) => (value === null ? NaN : value));
      expect(back).toEqual(vector.map((value) => (Number.isFinite(value) ? value + 0 : NaN)));
    }
  });

  it("bounds the size by the longest value per slot", () => {
    expect(float32JsonArrayMaxBytes(0)).toBe(2);
    expect(float32JsonArrayMaxBytes(1)).toBe(2 + FLOAT32_JSON_MAX_BYTES);
    expect(float32JsonArrayMaxBytes(3)).toBe(2 + 3 * FLOAT32_JSON_MAX_BYTES + 2);
    const worst = new Float32Array(4).fill(Math.fround(-1.2345678e20));
    expect(writeFloat32JsonArray(worst, new Uint8Array(float32JsonArrayMaxBytes(4)), 0)).toBe(
      float32JsonArrayMaxBytes(4),
    );
  });

  it("reads values from a vector that is a view at an offset into a larger buffer", () => {
    const backing = new Float32Array([9, Math.fround(0.5), Math.fround(-0.25), 9]);
    const view = backing.subarray(1, 3);
    const bytes = new Uint8Array(float32JsonArrayMaxBytes(view.length));
    const end = writeFloat32JsonArray(view, bytes, 0);
    expect(Buffer.from(bytes.subarray(0, end)).toString("latin1")).toBe("[0.5,-0.25]");
  });
});
