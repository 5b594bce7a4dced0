import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import type { SettledSlot } from "../handlers/embedding-cache.js";
import { decodeCacheValue, encodeClaim } from "./embedding-cache-value.js";
import type { KvBatchClient, KvRecord } from "./kv-batch-client.js";

/** Re-read interval while nothing is heard: a safety net for writes missed around a reconnect. */
const POLL_INTERVAL_MS = 250;

export interface ClaimWaiterOptions {
  nc: NatsConnection;
  kv: KvBatchClient;
  claimTimeoutMs: number;
  waitTimeoutMs: number;
  owner: string;
  now: () => number;
  /** A KV failure while waiting: the keys settle `uncached`. */
  onError: (error: unknown) => void;
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
 * or the request's deadline passes, or the request is aborted.
 */
export function waitForClaims(
  keys: readonly string[],
  request: { deadline: number; signal: AbortSignal },
  options: ClaimWaiterOptions,
): Promise<SettledSlot>[] {
  const { kv, now } = options;
  const waitEnd = Math.min(performance.now() + options.waitTimeoutMs, request.deadline);
  const outstanding = new Map<string, { settle: (slot: SettledSlot) => void; expiresAt: number }>();
  const promises = keys.map(
    (key) => new Promise<SettledSlot>((settle) => outstanding.set(key, { settle, expiresAt: Infinity })),
  );
  const subscriptions: Subscription[] = [];
  const dirty = new Set<string>();
  let checking = false;
  let timer: NodeJS.Timeout | undefined;

  function settle(key: string, slot: SettledSlot): void {
    outstanding.get(key)?.settle(slot);
    outstanding.delete(key);
    if (outstanding.size === 0) finish();
  }

  function settleAllUncached(): void {
    for (const key of [...outstanding.keys()]) settle(key, { kind: "uncached" });
  }

  function finish(): void {
    clearTimeout(timer);
    request.signal.removeEventListener("abort", settleAllUncached);
    for (const subscription of subscriptions) subscription.unsubscribe();
    subscriptions.length = 0;
  }

  function schedule(): void {
    if (outstanding.size === 0 || checking) return;
    clearTimeout(timer);
    if (dirty.size > 0) {
      timer = setTimeout(check, 0);
      return;
    }
    let wakeAt = Math.min(
      Date.now() + POLL_INTERVAL_MS,
      ...[...outstanding.values()].map((entry) => entry.expiresAt),
    );
    wakeAt = Math.min(wakeAt - Date.now(), waitEnd - performance.now());
    timer = setTimeout(
      () => {
        if (performance.now() >= waitEnd) return settleAllUncached();
        for (const key of outstanding.keys()) dirty.add(key);
        check();
      },
      Math.max(0, wakeAt),
    );
  }

  /** Re-reads the dirty keys in one batch and takes over those that are free. */
  function check(): void {
    const batch = [...dirty].filter((key) => outstanding.has(key));
    dirty.clear();
    if (batch.length === 0) return schedule();
    checking = true;
    void recheck(batch)
      .catch((error: unknown) => {
        options.onError(error);
        settleAllUncached();
      })
      .finally(() => {
        checking = false;
        schedule();
      });
  }

  async function recheck(batch: string[]): Promise<void> {
    const records = await kv.getLatest(batch);
    const free: { key: string; revision: number }[] = [];
    batch.forEach((key, index) => {
      const state = readKeyState(records[index] ?? null, options.claimTimeoutMs, now());
      if (state.kind === "vector") settle(key, state.slot);
      else if (state.kind === "free") free.push({ key, revision: state.revision });
      else {
        const entry = outstanding.get(key);
        if (entry) entry.expiresAt = state.expiresAt;
      }
    });
    if (free.length === 0 || request.signal.aborted) return;
    const marker = encodeClaim(now(), options.owner);
    const results = await kv.putIfRevision(
      free.map(({ key, revision }) => ({ key, value: marker, expectedRevision: revision })),
    );
    const unwanted: { key: string; expectedRevision: number }[] = [];
    results.forEach((result, index) => {
      const { key } = free[index]!;
      // Settled meanwhile (aborted, wait bound): nobody would fill this claim, so give it back.
      if (result.ok && !outstanding.has(key)) unwanted.push({ key, expectedRevision: result.revision });
      else if (result.ok) settle(key, { kind: "claimed", claim: { key, revision: result.revision } });
      else if (result.conflict)
        dirty.add(key); // someone else moved first: look again
      else settle(key, { kind: "uncached" });
    });
    if (unwanted.length > 0) await kv.deleteIfRevision(unwanted);
  }

  if (request.signal.aborted || keys.length === 0) {
    settleAllUncached();
    return promises;
  }
  request.signal.addEventListener("abort", settleAllUncached, { once: true });
  for (const key of keys) {
    subscriptions.push(
      options.nc.subscribe(kv.subjectOf(key), {
        callback: () => {
          dirty.add(key);
          schedule();
        },
      }),
    );
  }
  // Subscribed first, then read: a write landing in between is either read or heard.
  for (const key of keys) dirty.add(key);
  check();
  return promises;
}
