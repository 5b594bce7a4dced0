import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import type { Logger } from "pino";
import { createKvBucketReader } from "./kv-bucket-reader.js";
import type { KvBucketReader } from "./kv-bucket-reader.js";

export interface BreakerStateFeedOptions {
  nc: NatsConnection;
  bucket: string;
  logger: Logger;
  /** How often the whole bucket is read again, besides after every reconnect. */
  resyncIntervalMs: number;
  /** How long a read of the bucket (key listing, then values) may wait for each answer. */
  readTimeoutMs?: number | undefined;
  /** A key's value as written, heard or read; a value read again unchanged is not passed on twice. */
  onValue: (key: string, text: string) => void;
}

/** How far behind the stream leader a replica answering a direct get may be, at most (generous). */
const REPLICA_LAG_MS = 1_000;
const KV_OPERATION = "KV-Operation";
const decoder = new TextDecoder();

/**
 * Every write to the breaker bucket, without a consumer (a KV watch is an ordered consumer, which
 * nats-server < 2.12 may place on a node that is down, nats-io/nats-server#7165): every KV write
 * is a plain publish on `$KV.<bucket>.<key>`, so a core subscription sees it; the bucket is read
 * (`KvBucketReader`) at start, every `resyncIntervalMs` and after a reconnect, for what was
 * written while this worker was not subscribed.
 */
export class BreakerStateFeed {
  readonly #subjectPrefix: string;
  readonly #reader: KvBucketReader;
  /** Last value seen per key (subscription or read): a read passes on only what changed since. */
  readonly #lastSeen = new Map<string, string>();
  /** When the subscription last delivered a write of each key (`performance.now()`). */
  readonly #deliveredAt = new Map<string, number>();
  #subscription: Subscription | undefined;
  #timer: NodeJS.Timeout | undefined;
  #statusEvents: AsyncIterable<{ type: string }> | undefined;
  #resyncing: Promise<void> | undefined;

  constructor(private readonly options: BreakerStateFeedOptions) {
    this.#subjectPrefix = `$KV.${options.bucket}.`;
    this.#reader = createKvBucketReader(options.nc, {
      bucket: options.bucket,
      timeoutMs: options.readTimeoutMs,
    });
  }

  /** Subscribes, then reads the bucket once (a failed read is logged and tried again later). */
  async start(): Promise<void> {
    const { nc, resyncIntervalMs } = this.options;
    this.#subscription = nc.subscribe(`${this.#subjectPrefix}>`, {
      callback: (error, msg) => this.#onWrite(error, msg),
    });
    // Subscribed (at our server) before the first read, so no write falls between the two.
    await nc.flush();
    await this.#resync("start");
    this.#timer = setInterval(() => void this.#resync("periodic"), resyncIntervalMs);
    this.#timer.unref();
    const statusEvents = nc.status();
    this.#statusEvents = statusEvents;
    void (async () => {
      for await (const status of statusEvents)
        if (status.type === "reconnect") void this.#resync("reconnect");
    })();
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#subscription?.unsubscribe();
    // The status iterator of @nats-io/nats-core has `stop()` (typed as a plain AsyncIterable).
    (this.#statusEvents as { stop?: () => void } | undefined)?.stop?.();
    await this.#resyncing;
  }

  #pass(key: string, text: string): void {
    this.#lastSeen.set(key, text);
    this.options.onValue(key, text);
  }

  #onWrite(error: Error | null, msg: Msg): void {
    if (error) {
      this.options.logger.warn({ err: error.message }, "circuit breaker subscription failed");
      return;
    }
    const key = msg.subject.slice(this.#subjectPrefix.length);
    this.#deliveredAt.set(key, performance.now());
    const operation = msg.headers?.get(KV_OPERATION) ?? "";
    if (operation === "DEL" || operation === "PURGE" || msg.data.length === 0) {
      this.#lastSeen.delete(key);
      return;
    }
    this.#pass(key, decoder.decode(msg.data));
  }

  /** Reads the whole bucket and passes on what changed since last seen; never rejects. */
  #resync(reason: string): Promise<void> {
    this.#resyncing ??= this.#readBucket(reason).finally(() => (this.#resyncing = undefined));
    return this.#resyncing;
  }

  async #readBucket(reason: string): Promise<void> {
    // A key the subscription delivered since then is left alone: that write is at least as new as
    // what the read returns (a direct get may be answered by a replica a little behind).
    const liveSince = performance.now() - REPLICA_LAG_MS;
    try {
      for (const entry of await this.#reader.entries()) {
        if ((this.#deliveredAt.get(entry.key) ?? -Infinity) > liveSince || entry.value.length === 0) continue;
        const text = decoder.decode(entry.value);
        if (this.#lastSeen.get(entry.key) !== text) this.#pass(entry.key, text);
      }
    } catch (error) {
      this.options.logger.warn(
        { reason, err: (error as Error).message, next_in_ms: this.options.resyncIntervalMs },
        "circuit breaker states not read from the bucket; trying again later",
      );
    }
  }
}
