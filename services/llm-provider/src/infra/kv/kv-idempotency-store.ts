import { jetstream } from "@nats-io/jetstream";
import { isRevisionConflict } from "./kv-revision-conflict.js";
import { Kvm } from "@nats-io/kv";
import type { KV, KvEntry } from "@nats-io/kv";
import { nuid } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import type { IdempotencyRecord } from "../../domain/idempotency.js";
import type { IdempotencyStore, StoredRecord } from "../../ports/idempotency-store.js";
import type { ReplyObjects } from "../obj/object-store-replies.js";
import { compressReply, expandReply, frameDone, parseStoredValue } from "./idempotency-record-codec.js";

/** Re-read interval while nothing is heard: a safety net for a write missed around a reconnect. */
const POLL_INTERVAL_MS = 250;

/**
 * The caller request ids in a KV bucket: one key per (subject, caller, request id), every write
 * compare-and-set on the revision read. The bucket's TTL is the idempotency window. A finished
 * request's reply is stored deflated, in the record or, when larger than the inline limit, as an
 * object of the replies bucket (same window) that the record names.
 */
export function createKvIdempotencyStore(
  nc: NatsConnection,
  options: {
    bucket: string;
    timeoutMs: number;
    /** A compressed reply up to this size stays in its KV record; a larger one goes to `replies`. */
    inlineMaxBytes: number;
    replies: ReplyObjects;
  },
): IdempotencyStore {
  const kv: Promise<KV> = new Kvm(jetstream(nc, { timeout: options.timeoutMs, checkAPI: false })).open(
    options.bucket,
    { allow_direct: true },
  );
  kv.catch(() => undefined);
  const subjectOf = (key: string) => `$KV.${options.bucket}.${key}`;

  async function read(key: string): Promise<StoredRecord | "deleted"> {
    const entry = await (await kv).get(key);
    if (entry === null || entry.operation !== "PUT") return "deleted";
    const record = await recordOf(entry);
    if (record !== undefined) return { record, revision: entry.revision };
    // The reply object expired just before its record (it was written first): the outcome is gone.
    await release(key, entry.revision);
    return "deleted";
  }

  async function recordOf(entry: KvEntry): Promise<IdempotencyRecord | undefined> {
    const parsed = parseStoredValue(entry.value);
    if ("record" in parsed) return parsed.record;
    const { fingerprint, reply } = parsed.done;
    const body = reply.object === undefined ? parsed.body : await options.replies.get(reply.object);
    if (body === undefined) return undefined;
    return { state: "done", fingerprint, reply: await expandReply(reply.codec, body) };
  }

  /** The value of a record; a large reply is written to its own object first. */
  async function encode(
    key: string,
    record: IdempotencyRecord,
  ): Promise<{ value: Uint8Array | string; object?: string }> {
    if (record.state !== "done") return { value: JSON.stringify(record) };
    const { codec, bytes } = await compressReply(record.reply);
    const header = { state: "done" as const, fingerprint: record.fingerprint };
    if (bytes.length <= options.inlineMaxBytes)
      return { value: frameDone({ ...header, reply: { codec } }, bytes) };
    // A name of its own per write: a worker whose claim was taken over never touches the new owner's.
    const object = `${key}.${nuid.next()}`;
    await options.replies.put(object, bytes);
    return { value: frameDone({ ...header, reply: { codec, object } }, new Uint8Array()), object };
  }

  async function put(key: string, record: IdempotencyRecord, revision: number): Promise<number | undefined> {
    const { value, object } = await encode(key, record);
    try {
      return await (await kv).put(key, value, { previousSeq: revision });
    } catch (error) {
      if (object !== undefined) await options.replies.remove(object).catch(() => undefined);
      if (isRevisionConflict(error)) return undefined;
      throw error;
    }
  }

  async function release(key: string, revision: number): Promise<void> {
    try {
      await (await kv).delete(key, { previousSeq: revision });
    } catch (error) {
      if (!isRevisionConflict(error)) throw error;
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
    release,
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
