import type { Msg, NatsConnection } from "@nats-io/nats-core";
import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";
import { CircuitBreaker } from "../domain/circuit-breaker.js";
import type { BreakerPolicy, BreakerState } from "../domain/circuit-breaker.js";
import type { FailureClass } from "../domain/failure.js";
import { countsAgainstProvider } from "../routing/breaker-board.js";
import type { BreakerBoard } from "../routing/breaker-board.js";
import { getInstruments } from "../telemetry/instruments.js";
import { BREAKER_STATE_VALUE, METRIC } from "../telemetry/semconv.js";
import { createKvBucketReader } from "./kv-bucket-reader.js";
import { fromKvToken, toKvToken } from "./kv-token.js";

/** What the bucket holds per target (provider and model): the shared state, and who set it. */
interface SharedBreakerState {
  state: BreakerState;
  opened_at: number;
  by: string;
}

export interface KvBreakerBoardOptions {
  nc: NatsConnection;
  bucket: string;
  workerId: string;
  policy: BreakerPolicy;
  logger: Logger;
  /** Told of every transition this worker decides (not of those it takes over from others). */
  onTransition?: (change: {
    key: string;
    from: BreakerState;
    to: BreakerState;
    changedAt: number;
    retryAfterMs: number;
  }) => void;
  /**
   * How often the whole bucket is read again, to take over what the subscription missed (writes
   * made while this worker was disconnected). Default 30 s; also done after every reconnect.
   */
  resyncIntervalMs?: number;
  /** How long a read of the bucket (key listing, then values) may wait for each answer. Default 5 s. */
  readTimeoutMs?: number;
}

const DEFAULT_RESYNC_INTERVAL_MS = 30_000;
/** How far behind the stream leader a replica answering a direct get may be, at most (generous). */
const REPLICA_LAG_MS = 1_000;
const KV_OPERATION = "KV-Operation";
const decoder = new TextDecoder();

export interface KvBreakerBoard extends BreakerBoard {
  close(): Promise<void>;
}

/**
 * Circuit breakers shared by every worker through a KV bucket. Each worker counts its own
 * failures; when its breaker opens or closes it writes that to the bucket, and every worker
 * subscribed to the bucket's subjects takes the state over — so a provider one worker saw fail is
 * not hammered by the others; a periodic read of the bucket catches up on writes made while a
 * worker was disconnected. After the cool-down the workers race for the one probe with a
 * compare-and-set on the key; the loser keeps the breaker open. Admission is answered from memory
 * otherwise.
 */
export async function createKvBreakerBoard(options: KvBreakerBoardOptions): Promise<KvBreakerBoard> {
  const { workerId, policy, logger } = options;
  // Created by ensureJetStreamState; reads go to the stream leader, so the probe's compare-and-set sees the latest.
  const kv: KV = await new Kvm(options.nc).open(options.bucket);
  const breakers = new Map<string, CircuitBreaker>();

  function breakerOf(target: string): CircuitBreaker {
    let breaker = breakers.get(target);
    if (!breaker) breakers.set(target, (breaker = new CircuitBreaker(policy)));
    return breaker;
  }

  function publish(target: string, breaker: CircuitBreaker): void {
    const shared: SharedBreakerState = { state: breaker.state, opened_at: breaker.openedAt, by: workerId };
    kv.put(toKvToken(target), JSON.stringify(shared)).catch((error: unknown) => {
      logger.warn({ breaker: target, err: (error as Error).message }, "circuit breaker state not shared");
    });
  }

  // Take over what other workers decide, without a consumer (a KV watch is an ordered consumer,
  // which nats-server < 2.12 may place on a node that is down, nats-io/nats-server#7165): every
  // KV write is a plain publish on `$KV.<bucket>.<key>`, so a core subscription sees it; the
  // bucket is read (key listing + direct gets) at start, every `resyncIntervalMs` and after a
  // reconnect, for what was written while this worker was not subscribed.
  const subjectPrefix = `$KV.${options.bucket}.`;
  const reader = createKvBucketReader(options.nc, {
    bucket: options.bucket,
    timeoutMs: options.readTimeoutMs,
  });
  /** Last value seen per key (subscription or read): a read applies only what changed since. */
  const lastSeen = new Map<string, string>();
  /** When the subscription last delivered a write of each key (`performance.now()`). */
  const deliveredAt = new Map<string, number>();
  /** Per provider, how many probe claims of this worker are out now. */
  const claimsOut = new Map<string, number>();
  /** Providers another worker claimed the probe of while a claim of ours was out. */
  const foreignClaims = new Set<string>();

  function takeOver(key: string, text: string): void {
    lastSeen.set(key, text);
    const shared = parseSharedState(text);
    if (!shared) {
      // Only workers write here (NATS permissions); still, a foreign value must not stop anything.
      logger.warn({ key }, "ignored a circuit breaker entry that is not a breaker state");
      return;
    }
    if (shared.by === workerId) return;
    const target = fromKvToken(key);
    const breaker = breakerOf(target);
    if (shared.state === "closed") breaker.close();
    else if (shared.state === "open") breaker.open(shared.opened_at);
    // half_open: another worker claims the probe; to us the breaker stays open until it reports.
    // A claim is a compare-and-set, and a core subscription sees it even when JetStream refused it
    // (the loser of a race for the probe): while our own claim is out, its outcome decides; while
    // our own probe is out, ours won.
    else if (claimsOut.has(target)) foreignClaims.add(target);
    else if (breaker.state !== "half_open") breaker.open(Date.now());
  }

  function onWrite(error: Error | null, msg: Msg): void {
    if (error) {
      logger.warn({ err: error.message }, "circuit breaker subscription failed");
      return;
    }
    const key = msg.subject.slice(subjectPrefix.length);
    deliveredAt.set(key, performance.now());
    const operation = msg.headers?.get(KV_OPERATION) ?? "";
    if (operation === "DEL" || operation === "PURGE" || msg.data.length === 0) {
      lastSeen.delete(key);
      return;
    }
    takeOver(key, decoder.decode(msg.data));
  }

  let resyncing: Promise<void> | undefined;
  /** Reads the whole bucket and takes over what changed since last seen; never rejects. */
  function resync(reason: string): Promise<void> {
    resyncing ??= (async () => {
      // A key the subscription delivered since then is left alone: that write is at least as new as
      // what the read returns (a direct get may be answered by a replica a few ms behind).
      const liveSince = performance.now() - REPLICA_LAG_MS;
      try {
        for (const entry of await reader.entries()) {
          if ((deliveredAt.get(entry.key) ?? -Infinity) > liveSince || entry.value.length === 0) continue;
          const text = decoder.decode(entry.value);
          if (lastSeen.get(entry.key) !== text) takeOver(entry.key, text);
        }
      } catch (error) {
        logger.warn(
          { reason, err: (error as Error).message, next_in_ms: resyncIntervalMs },
          "circuit breaker states not read from the bucket; trying again later",
        );
      } finally {
        resyncing = undefined;
      }
    })();
    return resyncing;
  }

  const resyncIntervalMs = options.resyncIntervalMs ?? DEFAULT_RESYNC_INTERVAL_MS;
  const subscription = options.nc.subscribe(`${subjectPrefix}>`, { callback: onWrite });
  // Subscribed (at our server) before the first read, so no write falls between the two.
  await options.nc.flush();
  await resync("start");
  const timer = setInterval(() => void resync("periodic"), resyncIntervalMs);
  timer.unref();
  const statusEvents = options.nc.status();
  void (async () => {
    for await (const status of statusEvents) if (status.type === "reconnect") void resync("reconnect");
  })();

  getInstruments()
    .meter.createObservableGauge(METRIC.breakerState, { description: "0 closed, 1 half-open, 2 open" })
    .addCallback((result) => {
      for (const [target, breaker] of breakers) {
        result.observe(BREAKER_STATE_VALUE[breaker.state], { target: `model:${target}` });
      }
    });

  /** Wins the one probe across workers: CAS the shared open state to half-open in our name. */
  async function claimProbe(target: string, breaker: CircuitBreaker): Promise<boolean> {
    claimsOut.set(target, (claimsOut.get(target) ?? 0) + 1);
    let won = false;
    try {
      won = await claimProbeOnce(target, breaker);
    } finally {
      const left = (claimsOut.get(target) ?? 1) - 1;
      if (left > 0) claimsOut.set(target, left);
      else claimsOut.delete(target);
      // Lost to another worker's claim seen meanwhile: it probes, so our cool-down starts again.
      if (!won && foreignClaims.has(target) && breaker.state === "open") breaker.open(Date.now());
      if (left <= 0) foreignClaims.delete(target);
    }
    return won;
  }

  async function claimProbeOnce(target: string, breaker: CircuitBreaker): Promise<boolean> {
    const key = toKvToken(target);
    try {
      const entry = await kv.get(key);
      if (entry && entry.value.length > 0) {
        const shared = parseSharedState(entry.string());
        if (!shared) return false;
        if (shared.state === "closed") {
          breaker.close();
          return true;
        }
        // Another worker's claim, stored and seen while ours was out: it probes, not us.
        if (shared.state === "half_open" && shared.by !== workerId && foreignClaims.has(target)) return false;
        const probe: SharedBreakerState = { state: "half_open", opened_at: shared.opened_at, by: workerId };
        await kv.update(key, JSON.stringify(probe), entry.revision);
      }
    } catch {
      return false; // another worker won the probe (or the bucket is away): stay open
    }
    return breaker.tryAcquire(Date.now());
  }

  return {
    admit(target) {
      const breaker = breakerOf(target);
      if (breaker.state === "closed") return true;
      if (breaker.state === "open" && !breaker.cooledDown(Date.now())) return false;
      if (breaker.state === "half_open") return false; // our own probe is out
      return claimProbe(target, breaker);
    },
    report(target, outcome: true | FailureClass) {
      const breaker = breakerOf(target);
      const before = breaker.state;
      if (outcome === true) breaker.recordSuccess();
      else if (countsAgainstProvider(outcome)) breaker.recordFailure(Date.now());
      else return;
      if (breaker.state !== before) {
        logger.warn({ breaker: target, from: before, to: breaker.state }, "circuit breaker changed state");
        publish(target, breaker);
        const now = Date.now();
        options.onTransition?.({
          key: target,
          from: before,
          to: breaker.state,
          changedAt: breaker.state === "open" ? breaker.openedAt : now,
          retryAfterMs: breaker.retryAfterMs(now),
        });
      }
    },
    isOpen: (target) => breakerOf(target).state !== "closed",
    retryAfterMs: (target) => breakerOf(target).retryAfterMs(Date.now()),
    async close() {
      clearInterval(timer);
      subscription.unsubscribe();
      // The status iterator of @nats-io/nats-core has `stop()` (typed as a plain AsyncIterable).
      (statusEvents as { stop?: () => void }).stop?.();
      await resyncing;
      reader.close();
    },
  };
}

/** A breaker state another worker wrote, or undefined for anything else. */
function parseSharedState(text: string): SharedBreakerState | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const { state, opened_at: openedAt, by } = value as Record<string, unknown>;
  if (state !== "closed" && state !== "open" && state !== "half_open") return undefined;
  if (typeof by !== "string" || typeof openedAt !== "number") return undefined;
  return value as SharedBreakerState;
}
