/**
 * Reply size limits: a NATS message (headers included) may not exceed the server's
 * `max_payload`, and a reply that does is never sent at all. So the size is checked before
 * sending, and the caller is told how to split the batch.
 */

/** Bytes of one reply item besides its vector, at least: keys, punctuation, a 67-character input_ref. */
const ITEM_OVERHEAD_MIN_BYTES = 140;
/** The same with `"cached":false` and the separating comma; index, dimensions and model come on top. */
const ITEM_OVERHEAD_BYTES = 146;
/** Bytes of the reply envelope at least: request id, model, provider, usage, latency. */
const ENVELOPE_MIN_BYTES = 150;
/**
 * A float32 prints as its shortest round-trip text: at most 17 characters ("-0.00000123456789") for
 * every |v| < 1e8 (embedding values are far below), plus a comma.
 */
const FLOAT_NUMBER_MAX_BYTES = 18;

export type EmbeddingEncoding = "float" | "base64";

/** Bytes of one vector in the reply: exact for base64; for floats, at least one digit and a comma each. */
export function minimumVectorBytes(dimensions: number, encoding: EmbeddingEncoding): number {
  return encoding === "base64" ? 2 + 4 * Math.ceil((dimensions * 4) / 3) : 2 * dimensions + 1;
}

/** A lower bound of the reply's size, known before any provider is called. */
export function minimumEmbeddingReplyBytes(
  count: number,
  dimensions: number,
  encoding: EmbeddingEncoding,
): number {
  const dimensionDigits = String(dimensions).length;
  return (
    ENVELOPE_MIN_BYTES +
    count * (ITEM_OVERHEAD_MIN_BYTES + dimensionDigits + minimumVectorBytes(dimensions, encoding))
  );
}

/**
 * A size estimate to advise on, not to refuse by: exact for base64 vectors, generous for floats,
 * so that a split it suggests does fit.
 */
export function typicalEmbeddingReplyBytes(
  count: number,
  dimensions: number,
  encoding: EmbeddingEncoding,
  modelName: string,
): number {
  const vector =
    encoding === "base64"
      ? minimumVectorBytes(dimensions, encoding)
      : 2 + dimensions * FLOAT_NUMBER_MAX_BYTES;
  const item =
    ITEM_OVERHEAD_BYTES +
    String(Math.max(count - 1, 0)).length +
    String(dimensions).length +
    Buffer.byteLength(modelName);
  return ENVELOPE_MIN_BYTES + count * (item + vector);
}

export interface OversizedReply {
  message: string;
  details: {
    reply_bytes: number;
    max_reply_bytes: number;
    items: number;
    max_items_per_request: number;
    encoding_format: EmbeddingEncoding;
  };
}

/**
 * Undefined when `replyBytes` fits `maxReplyBytes`; otherwise what the caller should do: how many
 * items per request fit (proportionally, with 5 % to spare), and base64 when floats were asked for.
 */
export function checkEmbeddingReplySize(
  replyBytes: number,
  items: number,
  maxReplyBytes: number,
  encoding: EmbeddingEncoding,
): OversizedReply | undefined {
  if (replyBytes <= maxReplyBytes) return undefined;
  const perItem = replyBytes / Math.max(items, 1);
  const fitting = Math.max(0, Math.floor((maxReplyBytes * 0.95) / perItem));
  const base64Hint =
    encoding === "float" ? '; encoding_format "base64" takes about a quarter of the bytes' : "";
  const advice =
    fitting > 0
      ? `split the batch into requests of at most ${fitting} items${base64Hint}`
      : `a single item does not fit: ask for fewer dimensions${base64Hint}`;
  return {
    message: `reply of ${items} embeddings would be ${replyBytes} bytes, over the ${maxReplyBytes} bytes NATS allows; ${advice}`,
    details: {
      reply_bytes: replyBytes,
      max_reply_bytes: maxReplyBytes,
      items,
      max_items_per_request: fitting,
      encoding_format: encoding,
    },
  };
}
