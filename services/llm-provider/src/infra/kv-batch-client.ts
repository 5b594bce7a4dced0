import { JetStreamApiCodes } from "@nats-io/jetstream";
import { headers as createHeaders } from "@nats-io/nats-core";
import type { Msg, MsgHdrs, NatsConnection, Subscription } from "@nats-io/nats-core";
import { plainAckSequence } from "./jetstream-ack.js";
import { createNumberedInbox } from "./numbered-inbox.js";
import { SequenceRing } from "./sequence-ring.js";

/** The latest record of a key. DEL and PURGE are the markers a deleted key leaves. */
export interface KvRecord {
  revision: number;
  operation: "PUT" | "DEL" | "PURGE";
  value: Uint8Array;
}

/** Outcome of one compare-and-set write; `conflict`: the key's revision was not the expected one. */
export type KvWriteResult =
  { ok: true; revision: number } | { ok: false; conflict: boolean; message: string };

export interface KvWrite {
  key: string;
  value: Uint8Array;
  /** The key's current revision; 0 = the key has no record (what `kv.create` sends). */
  expectedRevision: number;
}

/** The whole batch failed: no answer in time, or nobody (no JetStream) answers. */
export class KvUnavailableError extends Error {
  override readonly name = "KvUnavailableError";
}

/**
 * Many KV operations at once, pipelined on one connection: the same wire operations as
 * `@nats-io/kv` (`get` = direct get of the subject's last message, `create`/`update`/`delete` =
 * publishes with `Nats-Expected-Last-Subject-Sequence`), but every request of a batch shares one
 * reply subscription and one timer. Per operation that is ~10 µs of client CPU instead of ~60 µs
 * (measured on 2 cores): what lets a 256-item batch be looked up, claimed and stored in a few ms.
 */
export interface KvBatchClient {
  /** Subject a key's records are published on: a core subscription sees every write to it. */
  subjectOf(key: string): string;
  getLatest(keys: readonly string[]): Promise<(KvRecord | null)[]>;
  putIfRevision(writes: readonly KvWrite[]): Promise<KvWriteResult[]>;
  deleteIfRevision(deletes: readonly { key: string; expectedRevision: number }[]): Promise<KvWriteResult[]>;
  close(): void;
}

const EXPECTED_LAST_SUBJECT_SEQUENCE = "Nats-Expected-Last-Subject-Sequence";
const KV_OPERATION = "KV-Operation";
const CONFLICT_CODES = new Set<number>([
  JetStreamApiCodes.StreamWrongLastSequence,
  JetStreamApiCodes.StreamWrongLastSequenceUnknown,
]);
const NOT_FOUND = 404;
const NO_RESPONDERS = 503;

interface Operation {
  subject: string;
  data?: Uint8Array;
  /** A compare-and-set write: `Nats-Expected-Last-Subject-Sequence`. */
  expectedRevision?: number;
  kvOperation?: "DEL";
}

export function createKvBatchClient(
  nc: NatsConnection,
  options: { bucket: string; timeoutMs: number },
): KvBatchClient {
  const stream = `KV_${options.bucket}`;
  const prefix = `$KV.${options.bucket}.`;
  const inbox = createNumberedInbox();
  // Replies awaited, by number (the reply subject's): not a Map churned per operation, which would
  // keep them alive into the old generation (see SequenceRing).
  const waiting = new SequenceRing<(msg: Msg) => void>();
  let subscription: Subscription | undefined;

  function ensureSubscription(): void {
    subscription ??= nc.subscribe(inbox.wildcard, {
      callback: (_error, msg) => {
        const deliver = waiting.take(inbox.sequenceOf(msg.subject));
        deliver?.(msg); // none: the batch already timed out
      },
    });
  }

  /** Sends every operation, resolves with the replies in order, or rejects the whole batch. */
  function sendAll(operations: readonly Operation[]): Promise<Msg[]> {
    if (operations.length === 0) return Promise.resolve([]);
    ensureSubscription();
    return new Promise((resolve, reject) => {
      const replies = new Array<Msg>(operations.length);
      let left = operations.length;
      const timer = setTimeout(() => {
        for (const sequence of sequences) waiting.take(sequence);
        reject(
          new KvUnavailableError(
            `no KV answer within ${options.timeoutMs} ms (${left} of ${operations.length} missing)`,
          ),
        );
      }, options.timeoutMs);
      const sequences = operations.map((_operation, index) =>
        waiting.push((msg) => {
          replies[index] = msg;
          if (--left > 0) return;
          clearTimeout(timer);
          resolve(replies);
        }),
      );
      try {
        operations.forEach((operation, index) => {
          // Headers of its own, not one object reused (see the pipelined publisher).
          let hdrs: MsgHdrs | undefined;
          if (operation.expectedRevision !== undefined) {
            hdrs = createHeaders();
            hdrs.set(EXPECTED_LAST_SUBJECT_SEQUENCE, String(operation.expectedRevision));
            if (operation.kvOperation) hdrs.set(KV_OPERATION, operation.kvOperation);
          }
          nc.publish(operation.subject, operation.data, {
            reply: inbox.replySubject(sequences[index]!),
            headers: hdrs,
          });
        });
      } catch (error) {
        clearTimeout(timer);
        for (const sequence of sequences) waiting.take(sequence);
        reject(new KvUnavailableError(`KV request could not be sent: ${String(error)}`, { cause: error }));
      }
    });
  }

  return {
    subjectOf: (key) => prefix + key,

    async getLatest(keys) {
      const replies = await sendAll(
        keys.map((key) => ({ subject: `$JS.API.DIRECT.GET.${stream}.${prefix}${key}` })),
      );
      return replies.map(readRecord);
    },

    async putIfRevision(writes) {
      const replies = await sendAll(
        writes.map((write) => ({
          subject: prefix + write.key,
          data: write.value,
          expectedRevision: write.expectedRevision,
        })),
      );
      return replies.map(readAck);
    },

    async deleteIfRevision(deletes) {
      const replies = await sendAll(
        deletes.map((entry) => ({
          subject: prefix + entry.key,
          expectedRevision: entry.expectedRevision,
          kvOperation: "DEL" as const,
        })),
      );
      return replies.map(readAck);
    },

    close() {
      subscription?.unsubscribe();
      subscription = undefined;
      waiting.drain(); // their batches time out
    },
  };
}

function readRecord(msg: Msg): KvRecord | null {
  const code = msg.headers?.code ?? 0;
  if (code === NOT_FOUND) return null;
  if (code !== 0) throw statusError(msg, "direct get");
  const revision = Number(msg.headers?.get("Nats-Sequence"));
  const operation = msg.headers?.get(KV_OPERATION);
  return {
    revision,
    operation: operation === "DEL" || operation === "PURGE" ? operation : "PUT",
    value: msg.data,
  };
}

function readAck(msg: Msg): KvWriteResult {
  const sequence = plainAckSequence(msg);
  if (sequence !== undefined) return { ok: true, revision: sequence };
  if ((msg.headers?.code ?? 0) !== 0) throw statusError(msg, "publish");
  let ack: { seq?: number; error?: { err_code?: number; description?: string } };
  try {
    ack = JSON.parse(msg.string()) as typeof ack;
  } catch {
    return { ok: false, conflict: false, message: "JetStream answered with something that is not JSON" };
  }
  if (ack.error) {
    const conflict = CONFLICT_CODES.has(ack.error.err_code ?? 0);
    return { ok: false, conflict, message: ack.error.description ?? "JetStream error" };
  }
  return typeof ack.seq === "number"
    ? { ok: true, revision: ack.seq }
    : { ok: false, conflict: false, message: "JetStream ack without a sequence" };
}

function statusError(msg: Msg, what: string): KvUnavailableError {
  const code = msg.headers?.code ?? 0;
  const reason =
    code === NO_RESPONDERS
      ? "no responders (is JetStream on and the bucket there?)"
      : msg.headers?.description;
  return new KvUnavailableError(`KV ${what} failed: ${code} ${reason ?? ""}`.trim());
}
