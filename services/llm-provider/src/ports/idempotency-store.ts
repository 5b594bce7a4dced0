import type { IdempotencyRecord } from "../domain/idempotency.js";

/** A record as stored, with the revision a compare-and-set write must name. */
export interface StoredRecord {
  record: IdempotencyRecord;
  revision: number;
}

/**
 * Port to the store of caller request ids (shared by every worker): a request claims its key, the
 * claimant writes the outcome over its claim, duplicates read or wait for it. Every write over an
 * existing record is compare-and-set, so two workers never both own a key.
 */
export interface IdempotencyStore {
  /** Claims `key` with `claim`; when the key exists, what is stored there instead. */
  claim(key: string, claim: IdempotencyRecord): Promise<{ claimed: number } | { existing: StoredRecord }>;
  /** Writes `record` over the revision read; undefined when another write came first. */
  replace(key: string, record: IdempotencyRecord, revision: number): Promise<number | undefined>;
  /** Removes the key if it is still at `revision` (a retryable failure: the next try starts afresh). */
  release(key: string, revision: number): Promise<void>;
  /** The key's next change after `revision`, or undefined when none came by `untilMs` (epoch ms). */
  nextChange(key: string, revision: number, untilMs: number): Promise<StoredRecord | "deleted" | undefined>;
}
