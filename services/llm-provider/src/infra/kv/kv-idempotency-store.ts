import { jetstream } from "@nats-io/jetstream";
import { isRevisionConflict } from "./kv-revision-conflict.js";
import { Kvm } from "@nats-io/kv";
import type { KV, KvEntry } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import type { IdempotencyRecord } from "../../domain/idempotency.js";
import type { IdempotencyStore, StoredRecord } from "../../ports/idempotency-store.js";

/** Re-read interval while nothing is heard: a safety net for a write missed around a reconnect. */
const POLL_INTERVAL_MS = 250;

/**
 * The caller request ids in a KV bucket: one key per (subject, caller, request id), every write
 * compare-and-set on the revision read. The bucket's TTL is the idempotency window.
 */
export function createKvIdempotencyStore(
  nc: NatsConnection,
  options: { bucket: string; timeoutMs: number },
): IdempotencyStore {
  const kv: Promise<KV> = new Kvm(jetstream(nc, { timeout: options.timeoutMs, checkAPI: false })).open(
    options.bucket,
    { allow_direct: true },
  );
  kv.catch(() => undefined);
  const subjectOf = (key: string) => `$KV.${options.bucket}.${key}`;

  async function read(key: string): Promise<StoredRecord | "deleted"> {
    const entry = await (await kv).get(key);
    return entry === null || entry.operation !== "PUT" ? "deleted" : stored(entry);
  }

  async function put(key: string, record: IdempotencyRecord, revision: number): Promise<number | undefined> {
    try {
      return await (await kv).put(key, JSON.stringify(record), { previousSeq: revision });
    } catch (error) {
      if (isRevisionConflict(error)) return undefined;
      throw error;
    }
  }

  return {
    async claim(key, claim) {
      // `kv.create` claims a key that has no record or only a deletion marker (a released claim).
      for (let attempt = 0; ; attempt++) {
        try {
          return { claimed: await (await kv).create(key, JSON.stringify(claim)) };
        } catch (error) {
          if (!isRevisionConflict(error)) throw error;
        }
        const current = await read(key);
        if (current !== "deleted") return { existing: current };
        // Released between the claim and the read: claim once more.
        if (attempt > 0) throw new Error(`idempotency key ${key} keeps changing under the claim`);
      }
    },
    replace: put,
    async release(key, revision) {
      try {
        await (await kv).delete(key, { previousSeq: revision });
      } catch (error) {
        if (!isRevisionConflict(error)) throw error;
      }
    },
    async nextChange(key, revision, untilMs) {
      // A core subscription hears every write to the key; the poll covers one missed meanwhile.
      let wake: (() => void) | undefined;
      const subscription = nc.subscribe(subjectOf(key), { callback: () => wake?.() });
      try {
        for (;;) {
          const current = await read(key);
          if (current === "deleted" || current.revision !== revision) return current;
          const left = untilMs - Date.now();
          if (left <= 0) return undefined;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, Math.min(left, POLL_INTERVAL_MS));
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = undefined;
        }
      } finally {
        subscription.unsubscribe();
      }
    },
  };
}

/** JetStream refused a compare-and-set write: the key was not at the revision named. */
function stored(entry: KvEntry): StoredRecord {
  return { record: entry.json<IdempotencyRecord>(), revision: entry.revision };
}
