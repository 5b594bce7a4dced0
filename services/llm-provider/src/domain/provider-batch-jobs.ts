import { hashParts } from "./hash-parts.js";

/**
 * A provider batch submitted for a job's items, as the store keeps it: enough to find the batch
 * at the provider and to give each item its result. Written before the items are acknowledged.
 */
export interface ProviderBatchRecord {
  caller: string;
  job_id: string;
  provider_id: string;
  batch_id: string;
  /** Item `n` of the batch was sent with custom id `customIdOf(n)`. */
  item_ids: string[];
  submitted_at: string;
  /** No poller looks before this. */
  next_poll_at: string;
  /** A poller's claim on the record; past it, the claim is void (its worker died) and another may take it. */
  lease_until: string | null;
}

/** Provider batch records share the jobs bucket under this prefix. */
export const PROVIDER_BATCH_KEY_PREFIX = "pbatch.";

/** The store key of a provider batch: hashed, since provider batch ids are not all KV-key safe. */
export function providerBatchKey(providerId: string, batchId: string): string {
  return PROVIDER_BATCH_KEY_PREFIX + hashParts(["provider-batch", providerId, batchId]).slice(0, 40);
}

/**
 * The custom id of a batch's `index`th item: positions, not item ids, since item ids may hold
 * characters Anthropic refuses (`^[a-zA-Z0-9_-]{1,64}$`).
 */
export function customIdOf(index: number): string {
  return `item-${index}`;
}

/** The record claimed for one poll until `now + leaseMs`; undefined when it is not due or someone holds it. */
export function claimForPoll(
  record: ProviderBatchRecord,
  now: Date,
  leaseMs: number,
): ProviderBatchRecord | undefined {
  if (now.getTime() < Date.parse(record.next_poll_at)) return undefined;
  if (record.lease_until !== null && now.getTime() < Date.parse(record.lease_until)) return undefined;
  return { ...record, lease_until: new Date(now.getTime() + leaseMs).toISOString() };
}

/** After a poll that found the batch still running: the claim released, the next poll due after `intervalMs`. */
export function nextPoll(record: ProviderBatchRecord, now: Date, intervalMs: number): ProviderBatchRecord {
  return { ...record, lease_until: null, next_poll_at: new Date(now.getTime() + intervalMs).toISOString() };
}
