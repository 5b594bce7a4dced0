import { encodeFloat32Base64, float32ToJson } from "../domain/embedding-vector.js";
import type { EmbeddingReply } from "./build-embedding-reply.js";

const QUOTE = 0x22;

/**
 * The reply's JSON bytes: an `EmbeddingResult` with each vector in the requested encoding, the
 * same bytes `JSON.stringify` would give, made without an intermediate array of numbers and
 * without stringifying the whole reply first. A batch reply is megabytes of vectors, and
 * stringifying it whole, then encoding that string as UTF-8, costs more than the rest of a
 * cached batch. Vector texts (base64 or JSON numbers: ASCII either way) are copied into the
 * buffer byte for byte; only the small remaining parts go through the UTF-8 encoder. Duplicate
 * inputs share one vector, and so one text.
 */
export function encodeEmbeddingResult(reply: EmbeddingReply): Uint8Array {
  const vectorTexts = new Map<Float32Array, string>();
  const quoted = reply.encoding === "base64";
  const parts: { text: string; vector: boolean }[] = [];
  const add = (text: string, vector = false) => parts.push({ text, vector });

  add(
    `{"request_id":${JSON.stringify(reply.request_id)},"model":${JSON.stringify(reply.model)},` +
      `"provider_id":${JSON.stringify(reply.provider_id)},"data":[`,
  );
  reply.data.forEach((item, position) => {
    add(`${position === 0 ? "" : ","}{"index":${item.index},"embedding":`);
    let text = vectorTexts.get(item.vector);
    if (text === undefined) {
      text = quoted ? encodeFloat32Base64(item.vector) : float32ToJson(item.vector);
      vectorTexts.set(item.vector, text);
    }
    add(text, true);
    add(
      `,"dimensions":${item.dimensions},"input_ref":${JSON.stringify(item.input_ref)},` +
        `"model":${JSON.stringify(item.model)},"cached":${item.cached}}`,
    );
  });
  add(
    `],"usage":${JSON.stringify(reply.usage)},"latency_ms":${JSON.stringify(reply.latency_ms)},` +
      `"warnings":${JSON.stringify(reply.warnings)}}`,
  );

  let size = 0;
  for (const part of parts)
    size += part.vector ? part.text.length + (quoted ? 2 : 0) : Buffer.byteLength(part.text);
  const bytes = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const part of parts) {
    if (!part.vector) {
      offset += bytes.write(part.text, offset, "utf8");
      continue;
    }
    // base64 needs no escaping, so its text is written between quotes as is.
    if (quoted) bytes[offset++] = QUOTE;
    offset += bytes.write(part.text, offset, "latin1");
    if (quoted) bytes[offset++] = QUOTE;
  }
  return bytes;
}
