import type { ErrorBody } from "@llm-provider/contracts";
import { hashParts } from "./hash-parts.js";

/**
 * What the idempotency store holds for one caller's request id: a claim while a worker serves it,
 * then the outcome every duplicate gets. `fingerprint` is the request body's hash: the same id
 * with another body is a caller's mistake, refused rather than answered with someone else's reply.
 * `reply` is the reply's JSON as sent (an embedding reply is encoded once, as bytes, and replayed so).
 */
export type IdempotencyRecord =
  | { state: "running"; fingerprint: string; owner: string; lease_until: number }
  | { state: "done"; fingerprint: string; reply: Uint8Array }
  | { state: "failed"; fingerprint: string; error: ErrorBody };

/**
 * The store key of a request: subject, caller and request id hashed together, so that one caller's
 * id never names another caller's request (or another subject's), whatever either chooses.
 */
export function idempotencyKey(subject: string, caller: string, requestId: string): string {
  return hashParts([subject, caller, requestId]);
}

/**
 * The hash of a request body as it arrived (JSON as decoded), to tell a duplicate from a reuse.
 * `timeout_ms` is left out: a retry has less time left, and the typed client says so in it.
 */
export function requestFingerprint(body: unknown): string {
  let significant = body;
  if (typeof body === "object" && body !== null && !Array.isArray(body) && "timeout_ms" in body) {
    const { timeout_ms: _timeout, ...rest } = body as Record<string, unknown>;
    significant = rest;
  }
  return hashParts([JSON.stringify(significant) ?? ""]);
}

/** What a request does about the record it found for its key. */
export type IdempotencyDecision =
  /** The same request finished: answer its reply (marked replayed), at no cost. */
  | { kind: "replay"; reply: Uint8Array }
  /** The same request failed for good: answer the same error. */
  | { kind: "fail"; error: ErrorBody }
  /** The same request is being served by a live worker: wait for its outcome. */
  | { kind: "wait"; leaseUntil: number }
  /** Its worker stopped renewing the claim (it died): take the claim over and serve it. */
  | { kind: "take_over" }
  /** Another body under the same request id. */
  | { kind: "mismatch" };

export function decideOnRecord(
  record: IdempotencyRecord,
  fingerprint: string,
  now: number,
): IdempotencyDecision {
  if (record.fingerprint !== fingerprint) return { kind: "mismatch" };
  switch (record.state) {
    case "done":
      return { kind: "replay", reply: record.reply };
    case "failed":
      return { kind: "fail", error: record.error };
    case "running":
      return record.lease_until > now
        ? { kind: "wait", leaseUntil: record.lease_until }
        : { kind: "take_over" };
  }
}

/**
 * Whether a failure is kept as the request's outcome: a final one (the same request would fail the
 * same way) is; a retryable one is not, so that a retry with the same id is served afresh.
 */
export function isFinalFailure(error: ErrorBody): boolean {
  return !error.retryable && error.code !== "cancelled";
}

const REPLAYED_MARKER = new TextEncoder().encode('"replayed":true}');
/** What a replay adds to a stored reply at most (the marker and its comma). */
export const REPLAYED_MARKER_MAX_BYTES = REPLAYED_MARKER.length;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACE = 0x7b;
const COMMA = 0x2c;

/**
 * A stored reply (a JSON object's bytes) with `"replayed":true` added as its last member: one copy
 * of the bytes, no parse, so a megabyte embedding reply is replayed as cheaply as a small one.
 */
export function markReplayed(reply: Uint8Array): Uint8Array {
  let end = reply.length - 1;
  while (end >= 0 && reply[end] !== CLOSE_BRACE) end--;
  if (end < 0) throw new Error("a stored reply is not a JSON object");
  let last = end - 1;
  while (last >= 0 && isJsonSpace(reply[last]!)) last--;
  const separator = reply[last] === OPEN_BRACE ? [] : [COMMA];
  const marked = new Uint8Array(end + separator.length + REPLAYED_MARKER.length);
  marked.set(reply.subarray(0, end));
  marked.set(separator, end);
  marked.set(REPLAYED_MARKER, end + separator.length);
  return marked;
}

function isJsonSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}
