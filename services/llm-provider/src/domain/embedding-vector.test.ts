import { describe, expect, it } from "vitest";
import {
  bytesToFloat32,
  decodeFloat32Base64,
  encodeFloat32Base64,
  float32ToBytes,
} from "./embedding-vector.js";

describe("float32 vector encoding", () => {
  const vector = new Float32Array([1, -2, 3.5, Math.fround(0.1), -0]);

  it("writes little-endian float32, as OpenAI's base64 encoding does", () => {
    expect(Array.from(float32ToBytes(new Float32Array([1])))).toEqual([0x00, 0x00, 0x80, 0x3f]);
    expect(encodeFloat32Base64(new Float32Array([1, -2, 3]))).toBe("AACAPwAAAMAAAEBA");
  });

  it("round-trips through bytes and base64 exactly", () => {
    expect(Array.from(bytesToFloat32(float32ToBytes(vector)))).toEqual(Array.from(vector));
    expect(Array.from(decodeFloat32Base64(encodeFloat32Base64(vector)))).toEqual(Array.from(vector));
  });

  it("reads bytes at any alignment into a vector of its own", () => {
    const padded = new Uint8Array(1 + 8);
    padded.set(float32ToBytes(new Float32Array([0.5, -4])), 1);
    const read = bytesToFloat32(padded.subarray(1));
    expect(Array.from(read)).toEqual([0.5, -4]);
    padded.fill(0);
    expect(Array.from(read)).toEqual([0.5, -4]);
  });

  it("refuses data that is not whole floats", () => {
    expect(() => bytesToFloat32(new Uint8Array(5))).toThrow(RangeError);
    expect(() => decodeFloat32Base64("AAAAAAA=")).toThrow(RangeError);
  });
});
