import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import type { SettledSlot } from "../../../ports/embedding-cache.js";
import type { EmbeddingCacheBucket, KvRecord } from "./embedding-cache-bucket.js";
import { decodeCacheValue, encodeClaim } from "./embedding-cache-value.js";

/** Re-read interval while nothing is heard: a safety net for writes missed around a reconnect. */
const POLL_INTERVAL_MS = 250;

export interface ClaimWaiterOptions {
  nc: NatsConnection;
  bucket: EmbeddingCacheBucket;
  claimTimeoutMs: number;
  waitTimeoutMs: number;
  owner: string;
  now: () => number;
  /** A KV failure while waiting: the keys settle `uncached`. */
  onError: (error: unknown) => void;
  /** Aborted when the cache closes: every wait ends `uncached`. */
  closed: AbortSignal;
}

/** What a key's latest record means to a waiter. */
type KeyState =
  | { kind: "vector"; slot: SettledSlot }
  | { kind: "held"; expiresAt: number }
  | { kind: "free"; revision: number };

/** Reads a record: a vector, a claim still alive (until when), or free to claim (at which revision). */
export function readKeyState(record: KvRecord | null, claimTimeoutMs: number, now: number): KeyState {
  if (record === null) return { kind: "free", revision: 0 };
  const value = record.operation === "PUT" ? decodeCacheValue(record.value) : undefined;
  if (value?.kind === "vector") {
    const { vector, model, providerId, createdAt } = value;
    return { kind: "vector", slot: { kind: "hit", embedding: { vector, model, providerId, createdAt } } };
  }
  if (value?.kind === "claim" && now - value.claimedAt < claimTimeoutMs) {
    return { kind: "held", expiresAt: value.claimedAt + claimTimeoutMs };
  }
  // Deleted (a released claim), an abandoned claim, or a value this version cannot read.
  return { kind: "free", revision: record.revision };
}

/**
 * Waits for keys another request has claimed. Each key's subject is subscribed to (a core
 * subscription sees every write to it), and any write — or the poll — triggers a re-read from
 * the bucket, since a publish JetStream refused is seen too. A key settles as a `hit` when its
 * vector is there; as `claimed` when its claim was released or abandoned (older than the claim
 * timeout) and this request took it over by compare-and-set; as `uncached` when the wait bound
 * or the request's deadline passes, the request is aborted or the cache closed.
 */
export function waitForClaims(
  keys: readonly string[],
  request: { deadline: number; signal: AbortSignal },
  options: ClaimWaiterOptions,
): Promise<SettledSlot>[] {
  const wait = new ClaimWait(request, options);
  const promises = keys.map((key) => wait.add(key));
  wait.start();
  return promises;
}

interface Waiting {
  settle: (slot: SettledSlot) => void;
  /** When the claim last read expires (epoch ms): a re-read is due then. */
  expiresAt: number;
}

/** One request's wait for its keys: subscriptions, re-reads in batches, and take-overs. */
class ClaimWait {
  readonly #outstanding = new Map<string, Waiting>();
  /** Keys heard of (a write) or due for a re-read. */
  readonly #dirty = new Set<string>();
  readonly #subscriptions: Subscription[] = [];
  readonly #waitEnd: number;
  #checking = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly request: { deadline: number; signal: AbortSignal },
    private readonly options: ClaimWaiterOptions,
  ) {
    this.#waitEnd = Math.min(performance.now() + options.waitTimeoutMs, request.deadline);
  }

  add(key: string): Promise<SettledSlot> {
    return new Promise((settle) => this.#outstanding.set(key, { settle, expiresAt: Infinity }));
  }

  start(): void {
    const { nc, bucket, closed } = this.options;
    if (this.#stopped() || this.#outstanding.size === 0) return this.#settleAllUncached();
    this.request.signal.addEventListener("abort", this.#settleAllUncached, { once: true });
    closed.addEventListener("abort", this.#settleAllUncached, { once: true });
    for (const key of this.#outstanding.keys()) {
      const callback = () => {
        this.#dirty.add(key);
        this.#schedule();
      };
      this.#subscriptions.push(nc.subscribe(bucket.subjectOf(key), { callback }));
    }
    // Subscribed first, then read: a write landing in between is either read or heard.
    for (const key of this.#outstanding.keys()) this.#dirty.add(key);
    this.#check();
  }

  #stopped(): boolean {
    return this.request.signal.aborted || this.options.closed.aborted;
  }

  #settle(key: string, slot: SettledSlot): void {
    this.#outstanding.get(key)?.settle(slot);
    this.#outstanding.delete(key);
    if (this.#outstanding.size === 0) this.#finish();
  }

  readonly #settleAllUncached = (): void => {
    for (const key of [...this.#outstanding.keys()]) this.#settle(key, { kind: "uncached" });
  };

  #finish(): void {
    clearTimeout(this.#timer);
    this.request.signal.removeEventListener("abort", this.#settleAllUncached);
    this.options.closed.removeEventListener("abort", this.#settleAllUncached);
    for (const subscription of this.#subscriptions) subscription.unsubscribe();
    this.#subscriptions.length = 0;
  }

  /** The next re-read: at once for keys heard of, else at the poll or the first claim's expiry. */
  #schedule(): void {
    if (this.#outstanding.size === 0 || this.#checking) return;
    clearTimeout(this.#timer);
    if (this.#dirty.size > 0) {
      this.#timer = setTimeout(() => this.#check(), 0);
      return;
    }
    let wakeAt = Date.now() + POLL_INTERVAL_MS;
    for (const entry of this.#outstanding.values()) wakeAt = Math.min(wakeAt, entry.expiresAt);
    const delayMs = Math.min(wakeAt - Date.now(), this.#waitEnd - performance.now());
    this.#timer = setTimeout(
      () => {
        if (performance.now() >= this.#waitEnd) return this.#settleAllUncached();
        for (const key of this.#outstanding.keys()) this.#dirty.add(key);
        this.#check();
      },
      Math.max(0, delayMs),
    );
  }

  /** Re-reads the dirty keys in one batch and takes over those that are free. */
  #check(): void {
    const batch = [...this.#dirty].filter((key) => this.#outstanding.has(key));
    this.#dirty.clear();
    if (batch.length === 0) return this.#schedule();
    this.#checking = true;
    void this.#recheck(batch)
      .catch((error: unknown) => {
        this.options.onError(error);
        this.#settleAllUncached();
      })
      .finally(() => {
        this.#checking = false;
        this.#schedule();
      });
  }

  async #recheck(batch: string[]): Promise<void> {
    const { bucket, claimTimeoutMs, now } = this.options;
    const records = await bucket.getLatest(batch);
    const free: { key: string; revision: number }[] = [];
    batch.forEach((key, index) => {
      const state = readKeyState(records[index] ?? null, claimTimeoutMs, now());
      if (state.kind === "vector") this.#settle(key, state.slot);
      else if (state.kind === "free") free.push({ key, revision: state.revision });
      else {
        const entry = this.#outstanding.get(key);
        if (entry) entry.expiresAt = state.expiresAt;
      }
    });
    if (free.length > 0 && !this.#stopped()) await this.#takeOver(free);
  }

  /** Claims free keys by compare-and-set; a key another request moved first on is read again. */
  async #takeOver(free: readonly { key: string; revision: number }[]): Promise<void> {
    const { bucket, now, owner } = this.options;
    const marker = encodeClaim(now(), owner);
    const results = await bucket.putIfRevision(
      free.map(({ key, revision }) => ({ key, value: marker, expectedRevision: revision })),
    );
    const unwanted: { key: string; expectedRevision: number }[] = [];
    results.forEach((result, index) => {
      const { key } = free[index]!;
      // Settled meanwhile (aborted, wait bound): nobody would fill this claim, so give it back.
      if (result.ok && !this.#outstanding.has(key)) unwanted.push({ key, expectedRevision: result.revision });
      else if (result.ok) this.#settle(key, { kind: "claimed", claim: { key, revision: result.revision } });
      else if (result.conflict) this.#dirty.add(key);
      else this.#settle(key, { kind: "uncached" });
    });
    if (unwanted.length > 0) await bucket.deleteIfRevision(unwanted);
  }
}
