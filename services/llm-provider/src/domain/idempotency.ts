import type { ErrorBody } from "@llm-provider/contracts";
import { hashParts } from "./hash-parts.js";

/**
 * What the idempotency store holds for one caller's request id: a claim while a worker serves it,
 * then the outcome every duplicate gets. `fingerprint` is the request body's hash: the same id
 * with another body is a caller's mistake, refused rather than answered with someone else's reply.
 */
export type IdempotencyRecord =
  | { state: "running"; fingerprint: string; owner: string; lease_until: number }
  | { state: "done"; fingerprint: string; reply: unknown }
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
  | { kind: "replay"; reply: unknown }
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
