import type { NatsConnection } from "@nats-io/nats-core";
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
import { fromKvToken, toKvToken } from "./kv-token.js";

/** What the bucket holds per provider: the shared state, and who set it. */
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
    providerId: string;
    from: BreakerState;
    to: BreakerState;
    changedAt: number;
    retryAfterMs: number;
  }) => void;
}

export interface KvBreakerBoard extends BreakerBoard {
  close(): Promise<void>;
}

/**
 * Circuit breakers shared by every worker through a KV bucket. Each worker counts its own
 * failures; when its breaker opens or closes it writes that to the bucket, and every worker
 * watching the bucket takes the state over — so a provider one worker saw fail is not hammered by
 * the others. After the cool-down the workers race for the one probe with a compare-and-set on
 * the key; the loser keeps the breaker open. Admission is answered from memory otherwise.
 */
export async function createKvBreakerBoard(options: KvBreakerBoardOptions): Promise<KvBreakerBoard> {
  const { workerId, policy, logger } = options;
  // Created by ensureJetStreamState; reads go to the stream leader, so the probe's compare-and-set sees the latest.
  const kv: KV = await new Kvm(options.nc).open(options.bucket);
  const breakers = new Map<string, CircuitBreaker>();

  function breakerOf(providerId: string): CircuitBreaker {
    let breaker = breakers.get(providerId);
    if (!breaker) breakers.set(providerId, (breaker = new CircuitBreaker(policy)));
    return breaker;
  }

  function publish(providerId: string, breaker: CircuitBreaker): void {
    const shared: SharedBreakerState = { state: breaker.state, opened_at: breaker.openedAt, by: workerId };
    kv.put(toKvToken(providerId), JSON.stringify(shared)).catch((error: unknown) => {
      logger.warn(
        { provider_id: providerId, err: (error as Error).message },
        "circuit breaker state not shared",
      );
    });
  }

  // Take over what other workers decide.
  const watch = await kv.watch();
  void (async () => {
    for await (const entry of watch) {
      if (entry.operation !== "PUT" || entry.value.length === 0) continue;
      const shared = parseSharedState(entry.string());
      if (!shared) {
        // Only workers write here (NATS permissions); still, a foreign value must not stop the watch.
        logger.warn({ key: entry.key }, "ignored a circuit breaker entry that is not a breaker state");
        continue;
      }
      if (shared.by === workerId) continue;
      const providerId = fromKvToken(entry.key);
      const breaker = breakerOf(providerId);
      if (shared.state === "closed") breaker.close();
      else if (shared.state === "open") breaker.open(shared.opened_at);
      // half_open: another worker probes; to us the breaker stays open until it reports.
      else breaker.open(Date.now());
    }
  })();

  getInstruments()
    .meter.createObservableGauge(METRIC.breakerState, { description: "0 closed, 1 half-open, 2 open" })
    .addCallback((result) => {
      for (const [providerId, breaker] of breakers) {
        result.observe(BREAKER_STATE_VALUE[breaker.state], { target: `provider:${providerId}` });
      }
    });

  /** Wins the one probe across workers: CAS the shared open state to half-open in our name. */
  async function claimProbe(providerId: string, breaker: CircuitBreaker): Promise<boolean> {
    const key = toKvToken(providerId);
    try {
      const entry = await kv.get(key);
      if (entry && entry.value.length > 0) {
        const shared = parseSharedState(entry.string());
        if (!shared) return false;
        if (shared.state === "closed") {
          breaker.close();
          return true;
        }
        const probe: SharedBreakerState = { state: "half_open", opened_at: shared.opened_at, by: workerId };
        await kv.update(key, JSON.stringify(probe), entry.revision);
      }
    } catch {
      return false; // another worker won the probe (or the bucket is away): stay open
    }
    return breaker.tryAcquire(Date.now());
  }

  return {
    admit(providerId) {
      const breaker = breakerOf(providerId);
      if (breaker.state === "closed") return true;
      if (breaker.state === "open" && !breaker.cooledDown(Date.now())) return false;
      if (breaker.state === "half_open") return false; // our own probe is out
      return claimProbe(providerId, breaker);
    },
    report(providerId, outcome: true | FailureClass) {
      const breaker = breakerOf(providerId);
      const before = breaker.state;
      if (outcome === true) breaker.recordSuccess();
      else if (countsAgainstProvider(outcome)) breaker.recordFailure(Date.now());
      else return;
      if (breaker.state !== before) {
        logger.warn(
          { provider_id: providerId, from: before, to: breaker.state },
          "provider circuit breaker changed state",
        );
        publish(providerId, breaker);
        const now = Date.now();
        options.onTransition?.({
          providerId,
          from: before,
          to: breaker.state,
          changedAt: breaker.state === "open" ? breaker.openedAt : now,
          retryAfterMs: breaker.retryAfterMs(now),
        });
      }
    },
    isOpen: (providerId) => breakerOf(providerId).state !== "closed",
    retryAfterMs: (providerId) => breakerOf(providerId).retryAfterMs(Date.now()),
    async close() {
      watch.stop();
      await Promise.resolve();
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
