import { promisify } from "node:util";
import { constants, deflate, deflateSync, inflate, inflateSync } from "node:zlib";
import type { IdempotencyRecord } from "../../domain/idempotency.js";

/** Below this a reply is compressed on the event loop (microseconds); above, on libuv's pool. */
const SYNC_CODEC_MAX_BYTES = 64 * 1024;
const NEWLINE = 0x0a;
const deflateAsync = promisify(deflate);
const inflateAsync = promisify(inflate);

export type ReplyCodec = "deflate" | "none";

/** A finished request's record as stored: this header, a newline, then the (compressed) reply. */
export interface StoredDoneHeader {
  state: "done";
  fingerprint: string;
  reply: {
    codec: ReplyCodec;
    /** The reply sits in the replies Object Store under this name instead of after the header. */
    object?: string;
  };
}

/**
 * A stored value read back: a whole record, or a finished request's header with the reply bytes
 * that followed it (empty when the reply is an object of the replies Object Store).
 */
export type ParsedValue = { record: IdempotencyRecord } | { done: StoredDoneHeader; body: Uint8Array };

/**
 * Deflate at the fastest level: replies are JSON (float text compresses to about half); base64
 * vectors barely do, and are then kept as they are.
 */
export async function compressReply(reply: Uint8Array): Promise<{ codec: ReplyCodec; bytes: Uint8Array }> {
  const options = { level: constants.Z_BEST_SPEED };
  const deflated =
    reply.length <= SYNC_CODEC_MAX_BYTES ? deflateSync(reply, options) : await deflateAsync(reply, options);
  return deflated.length < reply.length
    ? { codec: "deflate", bytes: deflated }
    : { codec: "none", bytes: reply };
}

export async function expandReply(codec: ReplyCodec, bytes: Uint8Array): Promise<Uint8Array> {
  if (codec === "none") return bytes;
  return bytes.length <= SYNC_CODEC_MAX_BYTES ? inflateSync(bytes) : await inflateAsync(bytes);
}

/** A finished request's value: its header as one line of JSON (which never holds a raw newline), then the body. */
export function frameDone(header: StoredDoneHeader, body: Uint8Array): Uint8Array {
  const head = Buffer.from(`${JSON.stringify(header)}\n`);
  const value = new Uint8Array(head.length + body.length);
  value.set(head);
  value.set(body, head.length);
  return value;
}

/**
 * Reads a stored value. Claims and failures are plain JSON (no newline); so is a finished record
 * written before replies were kept as bytes, whose reply object is then turned into its JSON.
 */
export function parseStoredValue(value: Uint8Array): ParsedValue {
  const newline = value.indexOf(NEWLINE);
  if (newline < 0) {
    const record = JSON.parse(Buffer.from(value).toString("utf8")) as
      IdempotencyRecord | { state: "done"; fingerprint: string; reply: unknown };
    if (record.state === "done" && !(record.reply instanceof Uint8Array))
      return { record: { ...record, reply: Buffer.from(JSON.stringify(record.reply)) } };
    return { record: record as IdempotencyRecord };
  }
  const done = JSON.parse(Buffer.from(value.subarray(0, newline)).toString("utf8")) as StoredDoneHeader;
  return { done, body: value.subarray(newline + 1) };
}
