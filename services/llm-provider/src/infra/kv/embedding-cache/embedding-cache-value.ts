import { bytesToFloat32, float32ToBytes } from "../../../domain/embedding-vector.js";
import type { CachedEmbedding } from "../../../ports/embedding-cache.js";

/**
 * The values of the embedding cache bucket: binary, never JSON text of numbers. A key holds
 * either a vector entry or a claim marker.
 *
 *   vector entry (v1)                          claim marker (v1)
 *   0      u8      kind = 1                    0      u8      kind = 2
 *   1      u8      format version = 1          1      u8      format version = 1
 *   2..3   u16 LE  model name bytes (M)        2..9   f64 LE  claimed at, Unix ms
 *   4..5   u16 LE  provider id bytes (P)       10..   UTF-8   owner (worker id)
 *   6..9   u32 LE  dimensions (D)
 *   10..17 f64 LE  created at, Unix ms
 *   18..   UTF-8   model name, provider id
 *   then   4·D     float32 LE vector
 */
const KIND_VECTOR = 1;
const KIND_CLAIM = 2;
const FORMAT_VERSION = 1;
const VECTOR_HEADER_BYTES = 18;
const CLAIM_HEADER_BYTES = 10;
const MAX_NAME_BYTES = 0xffff;

export type CacheValue =
  | ({ kind: "vector"; dimensions: number } & CachedEmbedding)
  | { kind: "claim"; claimedAt: number; owner: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encoded model names and provider ids: a handful (the configured ones), written per vector. */
const nameBytes = new Map<string, Uint8Array>();
const NAME_CACHE_LIMIT = 256;

function encodeName(name: string): Uint8Array {
  let bytes = nameBytes.get(name);
  if (bytes === undefined) {
    if (nameBytes.size >= NAME_CACHE_LIMIT) nameBytes.clear();
    bytes = encoder.encode(name);
    nameBytes.set(name, bytes);
  }
  return bytes;
}

export function encodeVectorEntry(embedding: CachedEmbedding): Uint8Array {
  const model = encodeName(embedding.model);
  const provider = encodeName(embedding.providerId);
  if (model.length > MAX_NAME_BYTES || provider.length > MAX_NAME_BYTES) {
    throw new RangeError("model name or provider id too long for a cache entry");
  }
  const vector = float32ToBytes(embedding.vector);
  const bytes = new Uint8Array(VECTOR_HEADER_BYTES + model.length + provider.length + vector.length);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, KIND_VECTOR);
  view.setUint8(1, FORMAT_VERSION);
  view.setUint16(2, model.length, true);
  view.setUint16(4, provider.length, true);
  view.setUint32(6, embedding.vector.length, true);
  view.setFloat64(10, embedding.createdAt, true);
  bytes.set(model, VECTOR_HEADER_BYTES);
  bytes.set(provider, VECTOR_HEADER_BYTES + model.length);
  bytes.set(vector, VECTOR_HEADER_BYTES + model.length + provider.length);
  return bytes;
}

export function encodeClaim(claimedAt: number, owner: string): Uint8Array {
  const ownerBytes = encoder.encode(owner);
  const bytes = new Uint8Array(CLAIM_HEADER_BYTES + ownerBytes.length);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, KIND_CLAIM);
  view.setUint8(1, FORMAT_VERSION);
  view.setFloat64(2, claimedAt, true);
  bytes.set(ownerBytes, CLAIM_HEADER_BYTES);
  return bytes;
}

/**
 * Reads a value; `undefined` for anything this version does not understand (another format
 * version, a truncated write): such a key is treated as empty and overwritten.
 */
export function decodeCacheValue(bytes: Uint8Array): CacheValue | undefined {
  if (bytes.length < 2 || bytes[1] !== FORMAT_VERSION) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[0] === KIND_CLAIM && bytes.length >= CLAIM_HEADER_BYTES) {
    return {
      kind: "claim",
      claimedAt: view.getFloat64(2, true),
      owner: decoder.decode(bytes.subarray(CLAIM_HEADER_BYTES)),
    };
  }
  if (bytes[0] !== KIND_VECTOR || bytes.length < VECTOR_HEADER_BYTES) return undefined;
  const modelLength = view.getUint16(2, true);
  const providerLength = view.getUint16(4, true);
  const dimensions = view.getUint32(6, true);
  const vectorStart = VECTOR_HEADER_BYTES + modelLength + providerLength;
  if (dimensions === 0 || bytes.length !== vectorStart + dimensions * 4) return undefined;
  return {
    kind: "vector",
    dimensions,
    createdAt: view.getFloat64(10, true),
    model: decoder.decode(bytes.subarray(VECTOR_HEADER_BYTES, VECTOR_HEADER_BYTES + modelLength)),
    providerId: decoder.decode(bytes.subarray(VECTOR_HEADER_BYTES + modelLength, vectorStart)),
    vector: bytesToFloat32(bytes.subarray(vectorStart)),
  };
}
