import { float32JsonArrayMaxBytes, writeFloat32JsonArray } from "../../codecs/float32-json.js";
import type { NewJobResult } from "../../ports/job-store.js";

const encoder = new TextEncoder();

/**
 * A result's message body. A float vector is written straight from its `Float32Array`, each value
 * as the shortest text that reads back as the same float32 (as a generate_embedding reply prints
 * it), not widened to a double's seventeen digits.
 */
export function encodeJobResult(result: NewJobResult): Uint8Array {
  if (!("embedding" in result) || typeof result.embedding === "string")
    return encoder.encode(JSON.stringify(result));
  const { embedding, ...rest } = result;
  // The other fields first, then the vector in the place of the closing brace.
  const head = encoder.encode(`${JSON.stringify(rest).slice(0, -1)},"embedding":`);
  const bytes = new Uint8Array(head.length + float32JsonArrayMaxBytes(embedding.length) + 1);
  bytes.set(head);
  let end = writeFloat32JsonArray(embedding, bytes, head.length);
  bytes[end++] = 0x7d; // }
  return bytes.subarray(0, end);
}
