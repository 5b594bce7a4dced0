/**
 * Shortest round-trip JSON text for float32 values, written as ASCII straight into a byte buffer:
 * float32-shortest-decimal.ts finds the digits, this module lays them out.
 *
 * Layout follows `Number.prototype.toString`: fixed notation for 1e-6 <= |v| < 1e21, otherwise
 * exponent form (`1e-7`, `1.5e-10`, `1e+21`, `-3.4028235e+38`). NaN and ±Infinity are written as
 * `null`, and -0 as `0`, as JSON.stringify does.
 */

import { float32Bits, shortestDecimalDigits, shortestDecimalScale } from "./float32-shortest-decimal.js";

/**
 * Most bytes one float32 can take as JSON text. More than exponent form's 15 ("-1.17549435e-38"):
 * toString's fixed notation runs to 21 digits below 1e21, e.g. "-123456780000000000000".
 */
export const FLOAT32_JSON_MAX_BYTES = 22;

const CHAR_0 = 0x30;
const CHAR_MINUS = 0x2d;
const CHAR_PLUS = 0x2b;
const CHAR_DOT = 0x2e;
const CHAR_E = 0x65;
const CHAR_COMMA = 0x2c;
const NULL_BYTES = [0x6e, 0x75, 0x6c, 0x6c] as const;

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
  const digits = shortestDecimalDigits(positiveBits);
  return writeDecimal(bytes, offset, digits, shortestDecimalScale());
}

/**
 * Writes the shortest JSON number text that parses (JSON.parse → double → Math.fround) back to
 * exactly `value`'s float32; NaN/±Infinity as `null`, -0 as `0` (as JSON.stringify does). Returns the
 * offset after the last byte written (at most FLOAT32_JSON_MAX_BYTES). `value` must already be a
 * float32 value (e.g. read from a Float32Array); any other double is first rounded to float32.
 */
export function writeFloat32Json(value: number, bytes: Uint8Array, offset: number): number {
  return writeFloat32Bits(float32Bits(value), bytes, offset);
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
