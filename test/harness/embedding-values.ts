import { decodeFloat32Base64 } from "../../services/llm-provider/src/domain/embedding-vector.js";

/**
 * A reply's embedding as the float32 values a client gets from it: floats come as each float32's
 * shortest round-trip text, so they are compared as float32, not as the doubles JSON.parse gives.
 */
export function embeddingValues(embedding: number[] | string): Float32Array {
  return typeof embedding === "string" ? decodeFloat32Base64(embedding) : Float32Array.from(embedding);
}
