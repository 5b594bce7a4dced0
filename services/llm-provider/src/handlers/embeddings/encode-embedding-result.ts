import { encodeFloat32Base64 } from "../../domain/embedding-vector.js";
import { float32JsonArrayMaxBytes, writeFloat32JsonArray } from "../../codecs/float32-json.js";
import type { EmbeddingReply } from "./build-embedding-reply.js";

const QUOTE = 0x22;

/** Text for the UTF-8 encoder, a base64 vector (ASCII, copied as is) or a float vector. */
type Part = { text: string } | { base64: string } | { vector: Float32Array };

/**
 * The reply's JSON bytes: an `EmbeddingResult` with each vector in the requested encoding, made
 * without an intermediate array of numbers and without stringifying the whole reply first. A batch
 * reply is megabytes of vectors, and stringifying it whole, then encoding that string as UTF-8,
 * costs more than the rest of a cached batch.
 *
 * Float vectors are written as numbers straight into the reply buffer, each as the shortest text
 * that reads back as the same float32 (as OpenAI's API prints them: `0.012345679`, not the widened
 * double's `0.012345678918063641`). base64 vectors are copied in byte for byte; only the small
 * remaining parts go through the UTF-8 encoder. Duplicate inputs share one vector, and so one text.
 */
export function encodeEmbeddingResult(reply: EmbeddingReply): Uint8Array {
  const quoted = reply.encoding === "base64";
  const base64Texts = new Map<Float32Array, string>();
  const parts: Part[] = [];
  const add = (text: string) => parts.push({ text });

  add(
    `{"request_id":${JSON.stringify(reply.request_id)},"model":${JSON.stringify(reply.model)},` +
      `"provider_id":${JSON.stringify(reply.provider_id)},"data":[`,
  );
  reply.data.forEach((item, position) => {
    add(`${position === 0 ? "" : ","}{"index":${item.index},"embedding":`);
    if (quoted) {
      let base64 = base64Texts.get(item.vector);
      if (base64 === undefined) base64Texts.set(item.vector, (base64 = encodeFloat32Base64(item.vector)));
      parts.push({ base64 });
    } else {
      parts.push({ vector: item.vector });
    }
    add(
      `,"dimensions":${item.dimensions},"input_ref":${JSON.stringify(item.input_ref)},` +
        `"model":${JSON.stringify(item.model)},"cached":${item.cached}}`,
    );
  });
  add(
    `],"usage":${JSON.stringify(reply.usage)},"latency_ms":${JSON.stringify(reply.latency_ms)},` +
      `"warnings":${JSON.stringify(reply.warnings)}}`,
  );

  // An upper bound for float vectors (their exact length is known only once written), exact otherwise.
  let capacity = 0;
  for (const part of parts) {
    if ("text" in part) capacity += Buffer.byteLength(part.text);
    else if ("base64" in part) capacity += part.base64.length + 2;
    else capacity += float32JsonArrayMaxBytes(part.vector.length);
  }

  const bytes = Buffer.allocUnsafe(capacity);
  const written = new Map<Float32Array, { start: number; end: number }>();
  let offset = 0;
  for (const part of parts) {
    if ("text" in part) {
      offset += bytes.write(part.text, offset, "utf8");
    } else if ("base64" in part) {
      // base64 needs no escaping, so its text is written between quotes as is.
      bytes[offset++] = QUOTE;
      offset += bytes.write(part.base64, offset, "latin1");
      bytes[offset++] = QUOTE;
    } else {
      const earlier = written.get(part.vector);
      const start = offset;
      offset = earlier
        ? offset + bytes.copy(bytes, offset, earlier.start, earlier.end)
        : writeFloat32JsonArray(part.vector, bytes, offset);
      if (!earlier) written.set(part.vector, { start, end: offset });
    }
  }
  return bytes.subarray(0, offset);
}
