import type { NatsConnection } from "@nats-io/nats-core";
import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";
import { CircuitBreaker } from "../../domain/circuit-breaker.js";
import type { BreakerPolicy, BreakerState } from "../../domain/circuit-breaker.js";
import type { FailureClass } from "../../domain/failure.js";
import { countsAgainstProvider } from "../../ports/breaker-board.js";
import type { BreakerBoard } from "../../ports/breaker-board.js";
import { getInstruments } from "../../telemetry/instruments.js";
import { BREAKER_STATE_VALUE, METRIC } from "../../telemetry/semconv.js";
import { BreakerStateFeed } from "./kv-breaker-feed.js";
import { ProbeClaims } from "./kv-breaker-probe.js";
import { encodeSharedState, parseSharedState } from "./kv-breaker-state.js";
import { fromKvToken, toKvToken } from "./kv-token.js";

export interface BreakerTransition {
  key: string;
  from: BreakerState;
  to: BreakerState;
  changedAt: number;
  retryAfterMs: number;
}

export interface KvBreakerBoardOptions {
  nc: NatsConnection;
  bucket: string;
  workerId: string;
  policy: BreakerPolicy;
  logger: Logger;
  /** Told of every transition this worker decides (not of those it takes over from others). */
  onTransition?: (change: BreakerTransition) => void;
  /**
   * How often the whole bucket is read again, to take over what the subscription missed (writes
   * made while this worker was disconnected). Default 30 s; also done after every reconnect.
   */
  resyncIntervalMs?: number;
  /** How long a read of the bucket (key listing, then values) may wait for each answer. Default 5 s. */
  readTimeoutMs?: number;
}

const DEFAULT_RESYNC_INTERVAL_MS = 30_000;

export interface KvBreakerBoard extends BreakerBoard {
  close(): Promise<void>;
}

/**
 * Circuit breakers shared by every worker through a KV bucket. Each worker counts its own
 * failures; when its breaker opens or closes it writes that to the bucket, and every worker
 * hearing of it (`BreakerStateFeed`) takes the state over — so a provider one worker saw fail is
 * not hammered by the others. After the cool-down the workers race for the one probe
 * (`ProbeClaims`); the loser keeps the breaker open. Admission is answered from memory otherwise.
 */
export async function createKvBreakerBoard(options: KvBreakerBoardOptions): Promise<KvBreakerBoard> {
  // Created by ensureJetStreamState; reads go to the stream leader, so the probe's compare-and-set sees the latest.
  const kv = await new Kvm(options.nc).open(options.bucket);
  const board = new SharedBreakerBoard(kv, options);
  const feed = new BreakerStateFeed({
    nc: options.nc,
    bucket: options.bucket,
    logger: options.logger,
    resyncIntervalMs: options.resyncIntervalMs ?? DEFAULT_RESYNC_INTERVAL_MS,
    readTimeoutMs: options.readTimeoutMs,
    onValue: (key, text) => board.takeOver(key, text),
  });
  await feed.start();
  board.observeStates();
  return {
    admit: (target) => board.admit(target),
    report: (target, outcome) => board.report(target, outcome),
    isOpen: (target) => board.isOpen(target),
    retryAfterMs: (target) => board.retryAfterMs(target),
    close: () => feed.close(),
  };
}

/** This worker's breakers, kept in step with the others' through the bucket. */
class SharedBreakerBoard implements BreakerBoard {
  readonly #breakers = new Map<string, CircuitBreaker>();
  readonly #probes: ProbeClaims;

  constructor(
    private readonly kv: KV,
    private readonly options: KvBreakerBoardOptions,
  ) {
    this.#probes = new ProbeClaims(kv, options.workerId);
  }

  admit(target: string): boolean | Promise<boolean> {
    const breaker = this.#breakerOf(target);
    if (breaker.state === "closed") return true;
    if (breaker.state === "open" && !breaker.cooledDown(Date.now())) return false;
    if (breaker.state === "half_open") return false; // our own probe is out
    return this.#probes.claim(target, breaker);
  }

  report(target: string, outcome: true | FailureClass): void {
    const breaker = this.#breakerOf(target);
    const before = breaker.state;
    if (outcome === true) breaker.recordSuccess();
    else if (countsAgainstProvider(outcome)) breaker.recordFailure(Date.now());
    else return;
    if (breaker.state === before) return;
    this.options.logger.warn(
      { breaker: target, from: before, to: breaker.state },
      "circuit breaker changed state",
    );
    this.#publish(target, breaker);
    const now = Date.now();
    this.options.onTransition?.({
      key: target,
      from: before,
      to: breaker.state,
      changedAt: breaker.state === "open" ? breaker.openedAt : now,
      retryAfterMs: breaker.retryAfterMs(now),
    });
  }

  isOpen(target: string): boolean {
    return this.#breakerOf(target).state !== "closed";
  }

  retryAfterMs(target: string): number {
    return this.#breakerOf(target).retryAfterMs(Date.now());
  }

  /** Applies a state another worker wrote (this worker's own writes are skipped). */
  takeOver(key: string, text: string): void {
    const shared = parseSharedState(text);
    if (!shared) {
      // Only workers write here (NATS permissions); still, a foreign value must not stop anything.
      this.options.logger.warn({ key }, "ignored a circuit breaker entry that is not a breaker state");
      return;
    }
    if (shared.by === this.options.workerId) return;
    const target = fromKvToken(key);
    const breaker = this.#breakerOf(target);
    if (shared.state === "closed") breaker.close();
    else if (shared.state === "open") breaker.open(shared.opened_at);
    // half_open: another worker claims the probe; to us the breaker stays open until it reports.
    else if (!this.#probes.noteForeignClaim(target) && breaker.state !== "half_open")
      breaker.open(Date.now());
  }

  /** The breaker state gauge, one series per target. */
  observeStates(): void {
    getInstruments()
      .meter.createObservableGauge(METRIC.breakerState, { description: "0 closed, 1 half-open, 2 open" })
      .addCallback((result) => {
        for (const [target, breaker] of this.#breakers) {
          result.observe(BREAKER_STATE_VALUE[breaker.state], { target: `model:${target}` });
        }
      });
  }

  #breakerOf(target: string): CircuitBreaker {
    let breaker = this.#breakers.get(target);
    if (!breaker) this.#breakers.set(target, (breaker = new CircuitBreaker(this.options.policy)));
    return breaker;
  }

  #publish(target: string, breaker: CircuitBreaker): void {
    const shared = { state: breaker.state, opened_at: breaker.openedAt, by: this.options.workerId };
    this.kv.put(toKvToken(target), encodeSharedState(shared)).catch((error: unknown) => {
      this.options.logger.warn(
        { breaker: target, err: (error as Error).message },
        "circuit breaker state not shared",
      );
    });
  }
}
