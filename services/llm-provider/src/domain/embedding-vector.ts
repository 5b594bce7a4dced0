/**
 * Vectors travel as little-endian float32, the format of OpenAI's `encoding_format: "base64"`.
 * Every host Node runs on in practice is little-endian, where a Float32Array is that byte layout
 * already; the DataView paths keep a big-endian host correct.
 */
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The vector's bytes as little-endian float32. Shares memory with `vector` on little-endian hosts. */
export function float32ToBytes(vector: Float32Array): Uint8Array {
  if (HOST_IS_LITTLE_ENDIAN) return new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength);
  const bytes = new Uint8Array(vector.length * 4);
  const view = new DataView(bytes.buffer);
  for (let index = 0; index < vector.length; index++) view.setFloat32(index * 4, vector[index]!, true);
  return bytes;
}

/** Little-endian float32 bytes → a vector of its own (the input may sit at any alignment). */
export function bytesToFloat32(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 4 !== 0) {
    throw new RangeError(`float32 data must be a multiple of 4 bytes, got ${bytes.byteLength}`);
  }
  const vector = new Float32Array(bytes.byteLength / 4);
  if (HOST_IS_LITTLE_ENDIAN) {
    new Uint8Array(vector.buffer).set(bytes);
    return vector;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let index = 0; index < vector.length; index++) vector[index] = view.getFloat32(index * 4, true);
  return vector;
}

/** base64 of little-endian float32: what a caller asking for `encoding_format: "base64"` gets. */
export function encodeFloat32Base64(vector: Float32Array): string {
  const bytes = float32ToBytes(vector);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** base64 of little-endian float32 → vector. Throws `RangeError` when the length is not whole floats. */
export function decodeFloat32Base64(text: string): Float32Array {
  return bytesToFloat32(Buffer.from(text, "base64"));
}
