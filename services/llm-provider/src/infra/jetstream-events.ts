import { jetstreamManager, JetStreamApiError } from "@nats-io/jetstream";
import type { StreamConfig } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import { EVENT_SUBJECTS } from "@llm-provider/contracts";
import type { DomainEvent, EventSubject } from "@llm-provider/contracts";
import type { Logger } from "pino";
import type { EventsConfig } from "../config/schema.js";
import type { EventSink } from "../handlers/event-sink.js";
import type { EnsureOutcome } from "./ensure-kv-bucket.js";
import { createPipelinedPublisher } from "./jetstream-pipelined-publisher.js";
import { createOutbox } from "./nats-outbox.js";
import type { Outbox } from "./nats-outbox.js";
import { getInstruments } from "../telemetry/instruments.js";
import { METRIC } from "../telemetry/semconv.js";

const STREAM_NOT_FOUND = 10059;

/** Creates the event stream, or brings an existing one to the configured shape. Idempotent. */
export async function ensureEventStream(
  nc: NatsConnection,
  config: EventsConfig,
  apply = true,
): Promise<EnsureOutcome> {
  const jsm = await jetstreamManager(nc);
  const desired: Partial<StreamConfig> = {
    subjects: [...EVENT_SUBJECTS],
    num_replicas: config.replicas,
    max_age: nanos(config.max_age_ms),
    duplicate_window: nanos(config.duplicate_window_ms),
    max_bytes: config.max_bytes ?? -1,
  };
  let current: StreamConfig;
  try {
    current = (await jsm.streams.info(config.stream)).config;
  } catch (error) {
    if (!(error instanceof JetStreamApiError) || error.code !== STREAM_NOT_FOUND) throw error;
    if (!apply) return "missing";
    await jsm.streams.add({ name: config.stream, ...desired });
    return "created";
  }
  const same =
    current.num_replicas === desired.num_replicas &&
    current.max_age === desired.max_age &&
    current.duplicate_window === desired.duplicate_window &&
    current.max_bytes === desired.max_bytes &&
    current.subjects.length === EVENT_SUBJECTS.length &&
    EVENT_SUBJECTS.every((subject) => current.subjects.includes(subject));
  if (same) return "unchanged";
  if (!apply) return "differs";
  await jsm.streams.update(config.stream, desired);
  return "updated";
}

export interface EventPublisherStats {
  queued: number;
  in_flight: number;
  published: number;
  retries: number;
  dropped: number;
  /** Replies that went out before their event was stored (past `before_reply_max_ms` or the deadline). */
  at_risk: number;
}

export interface EventPublisher extends EventSink {
  stats(): EventPublisherStats;
  /** Waits until every queued event is acknowledged, or `timeoutMs` passes; returns how many are left. */
  flush(timeoutMs: number): Promise<number>;
  /** Stops listening for acks (after `flush`); events still unacknowledged stay counted as left. */
  close(): void;
}

interface PendingEvent {
  subject: EventSubject;
  /**
   * Built when emitted: a small object, where the builder would hold the request and the answer
   * (prompts and content) for as long as the event waits; serialised at the first publish.
   */
  event: DomainEvent;
  /** Serialised at the first publish, kept for retries. */
  built?: { id: string; data: string; traceparent: string | undefined };
  /** A reply waiting for this event to be stored (`events.delivery: before_reply`). */
  stored?: () => void;
}

/** Publishes awaiting their ack; more wait in the queue. Acks are pipelined, so this is cheap. */
const MAX_CONCURRENT_PUBLISHES = 256;
/** Events that end a linger early. */
const LINGER_BATCH = 256;
const RETRY_INITIAL_MS = 100;
const RETRY_MAX_MS = 5_000;

/**
 * Publishes domain events to JetStream without ever holding up a reply. Events wait in a bounded
 * queue; a publish JetStream did not acknowledge goes back to the front and is retried with the
 * same `Nats-Msg-Id` (so a publish that did land but whose ack was lost is de-duplicated) after a
 * backoff. A full queue drops the new event loudly: counted and logged.
 */
export function createJetStreamEventPublisher(
  nc: NatsConnection,
  config: EventsConfig,
  logger: Logger,
  outbox: Outbox = createOutbox(),
): EventPublisher {
  const publisher = createPipelinedPublisher(nc, config.publish_timeout_ms);
  const queue: PendingEvent[] = [];
  const counters = { published: 0, retries: 0, dropped: 0, at_risk: 0 };
  const holdsReplies = config.delivery === "before_reply";
  let lastAtRiskLog = 0;
  let inFlight = 0;
  let pausedUntil = 0;
  let retryDelayMs = RETRY_INITIAL_MS;
  let resumeTimer: NodeJS.Timeout | undefined;
  let lastDropLog = 0;
  let lingerTimer: NodeJS.Timeout | undefined;
  /** Lingered events wait for the next replies (`riding`) or `aloneTimer`, whichever is first. */
  let pumpDue = false;
  let riding = false;
  let aloneTimer: NodeJS.Timeout | undefined;
  let closed = false;
  /** Shutdown: nothing lingers any more. */
  let flushing = false;
  const idleWaiters = new Set<() => void>();
  const { meter } = getInstruments();
  meter
    .createObservableGauge(METRIC.eventQueueDepth, {
      description: "Events waiting for or in a JetStream publish",
    })
    .addCallback((result) => result.observe(queue.length + inFlight));
  const droppedCounter = meter.createCounter(METRIC.eventsDropped, {
    description: "Events dropped on a full queue",
  });
  const atRiskCounter = meter.createCounter(METRIC.eventsAtRisk, {
    description: "Replies sent before their event was stored (the event is still retried)",
  });

  /**
   * The promise a reply waits on: settled when the event is stored, or when `storedBy` (bounded
   * by `before_reply_max_ms`) passes — then the reply goes anyway, and the event, still retried,
   * is at risk until stored: counted, and logged at most once a second.
   */
  function waitForStored(
    pending: PendingEvent,
    subject: EventSubject,
    storedBy: number | undefined,
  ): Promise<void> {
    const waitMs = Math.min(config.before_reply_max_ms, (storedBy ?? Infinity) - performance.now());
    return new Promise<void>((resolve) => {
      const timer = setTimeout(
        () => {
          pending.stored = undefined;
          counters.at_risk++;
          atRiskCounter.add(1, { subject });
          const now = Date.now();
          if (now - lastAtRiskLog > 1_000) {
            lastAtRiskLog = now;
            logger.warn(
              {
                event_id: pending.event.id,
                subject,
                waited_ms: Math.round(waitMs),
                at_risk_total: counters.at_risk,
              },
              "reply sent before its event was stored; the event is still retried",
            );
          }
          resolve();
        },
        Math.max(0, waitMs),
      );
      pending.stored = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  function notifyIfIdle(): void {
    if (queue.length > 0 || inFlight > 0) return;
    for (const resolve of idleWaiters) resolve();
    idleWaiters.clear();
  }

  /** Serialises the event once, even when it is retried. */
  function prepare(event: PendingEvent): NonNullable<PendingEvent["built"]> {
    return (event.built ??= serialise(event.event));
  }

  function publishOne(event: PendingEvent): void {
    inFlight++;
    const built = prepare(event);
    publisher.publish(event.subject, built.data, built.id, built.traceparent, (error) => {
      inFlight--;
      if (error) {
        counters.retries++;
        queue.unshift(event);
        // JetStream is likely away: pause everything, not just this event, and back off; one log
        // line per pause, not one per event in flight.
        if (pausedUntil <= Date.now()) {
          logger.warn(
            { event_id: built.id, subject: event.subject, retry_in_ms: retryDelayMs, err: error.message },
            "event not acknowledged; will retry",
          );
          pausedUntil = Date.now() + retryDelayMs;
          retryDelayMs = Math.min(retryDelayMs * 2, RETRY_MAX_MS);
        }
      } else {
        counters.published++;
        retryDelayMs = RETRY_INITIAL_MS;
        event.stored?.();
        event.stored = undefined;
      }
      // Events emitted meanwhile linger and ride like any other: published from here, in the ack's
      // turn, each would leave in a write of its own, and every ack would start the next one.
      if (flushing) pump();
      else if (queue.length > 0) schedulePump();
      notifyIfIdle();
    });
  }

  /**
   * Gathers events for `linger_ms` (or until a batch is full). Then they are due: they ride with
   * the next replies, in the same socket write and after them (see Outbox), or leave on their own
   * when no replies come within another `linger_ms`. One write and one wake-up for their acks,
   * shared with replies, instead of one each.
   */
  function schedulePump(): void {
    if (pumpDue) return;
    if (config.linger_ms > 0 && queue.length < LINGER_BATCH) {
      lingerTimer ??= setTimeout(() => {
        lingerTimer = undefined;
        makeDue(true);
      }, config.linger_ms);
      return;
    }
    makeDue(false);
  }

  function makeDue(lingered: boolean): void {
    if (lingerTimer) {
      clearTimeout(lingerTimer);
      lingerTimer = undefined;
    }
    if (pumpDue) return;
    pumpDue = true;
    // Serialised in the timer's turn, so the replies they ride with wait only for the publishes.
    if (lingered) {
      const publishable = Math.min(queue.length, MAX_CONCURRENT_PUBLISHES - inFlight);
      for (let index = 0; index < publishable; index++) prepare(queue[index]!);
    }
    if (!riding) {
      riding = true;
      outbox.withNextReplies(() => {
        riding = false;
        publishDue();
      });
    }
    // Lingered: another linger_ms for replies to come. A full batch (or linger 0): only this turn's
    // replies, an immediate, which a timer runs after.
    aloneTimer = setTimeout(publishDue, lingered ? config.linger_ms : 1);
  }

  let publishScheduled = false;
  function publishThisTurn(): void {
    if (publishScheduled) return;
    publishScheduled = true;
    outbox.defer(() => {
      publishScheduled = false;
      pump();
    });
  }

  function publishDue(): void {
    if (!pumpDue) return;
    pumpDue = false;
    clearTimeout(aloneTimer);
    pump();
  }

  function pump(): void {
    if (closed) return; // what is left was counted by flush() and logged at shutdown
    const wait = pausedUntil - Date.now();
    if (wait > 0) {
      resumeTimer ??= setTimeout(() => {
        resumeTimer = undefined;
        pump();
      }, wait);
      return;
    }
    while (inFlight < MAX_CONCURRENT_PUBLISHES && queue.length > 0 && pausedUntil <= Date.now())
      publishOne(queue.shift()!);
  }

  return {
    emit(subject, build, storedBy) {
      if (queue.length >= config.queue_capacity) {
        counters.dropped++;
        droppedCounter.add(1, { subject });
        const now = Date.now();
        if (now - lastDropLog > 1_000) {
          lastDropLog = now;
          logger.error(
            {
              event_id: idOf(build),
              subject,
              dropped_total: counters.dropped,
              capacity: config.queue_capacity,
            },
            "event queue full; event dropped",
          );
        }
        return;
      }
      let event: DomainEvent;
      try {
        event = build();
      } catch (error) {
        // A builder bug must not fail the request the event is about: counted and logged instead.
        counters.dropped++;
        droppedCounter.add(1, { subject });
        logger.error(
          { subject, err: error instanceof Error ? error.message : String(error) },
          "event not built",
        );
        return;
      }
      const pending: PendingEvent = { subject, event };
      queue.push(pending);
      if (!holdsReplies || storedBy === undefined) {
        schedulePump(); // no reply waits for it
        return;
      }
      // A reply waits for it: published at the end of this event-loop turn, in the write of the
      // turn's replies (every request that finished in the turn shares it), no linger.
      const stored = waitForStored(pending, subject, storedBy);
      publishThisTurn();
      return stored;
    },
    stats: () => ({ queued: queue.length, in_flight: inFlight, ...counters }),
    flush(timeoutMs) {
      if (queue.length === 0 && inFlight === 0) return Promise.resolve(0);
      flushing = true;
      if (lingerTimer) {
        clearTimeout(lingerTimer);
        lingerTimer = undefined;
      }
      pump(); // no lingering at shutdown
      return new Promise<number>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          flushing = false;
          resolve(queue.length + inFlight);
        };
        const timer = setTimeout(() => {
          idleWaiters.delete(done);
          done();
        }, timeoutMs);
        idleWaiters.add(done);
      });
    },
    close() {
      closed = true;
      clearTimeout(resumeTimer);
      clearTimeout(lingerTimer);
      clearTimeout(aloneTimer);
      publisher.close();
    },
  };
}

function serialise(event: DomainEvent): { id: string; data: string; traceparent: string | undefined } {
  const traceparent = "traceparent" in event ? event.traceparent : undefined;
  return { id: event.id, data: JSON.stringify(event), traceparent };
}

/** The id of the event `build` makes, for a log line; undefined when the builder throws (emit never does). */
function idOf(build: () => DomainEvent): string | undefined {
  try {
    return build().id;
  } catch {
    return undefined;
  }
}
