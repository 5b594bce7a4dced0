import { jetstream, jetstreamManager, JetStreamApiError } from "@nats-io/jetstream";
import type { JetStreamClient, JetStreamPublishOptions, StreamConfig } from "@nats-io/jetstream";
import { headers as createHeaders, nanos } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import { EVENT_SUBJECTS } from "@llm-provider/contracts";
import type { DomainEvent, EventSubject } from "@llm-provider/contracts";
import type { Counter } from "@opentelemetry/api";
import type { Logger } from "pino";
import type { EventsConfig } from "../../config/schema.js";
import type { EventSink } from "../../ports/event-sink.js";
import type { EnsureOutcome } from "../kv/ensure-kv-bucket.js";
import { EventPublishQueue } from "./jetstream-event-queue.js";
import type { PublishEvent } from "./jetstream-event-queue.js";
import { ReplyWaits } from "./jetstream-event-waits.js";
import { getInstruments } from "../../telemetry/instruments.js";
import { METRIC } from "../../telemetry/semconv.js";

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
  /** Publishes nothing more (after `flush`); events still unacknowledged stay counted as left. */
  close(): void;
}

/**
 * Publishes awaiting their acknowledgement at once. `js.publish` takes many at a time (each a
 * request on the connection's shared reply subscription); the bound keeps a JetStream that is
 * away from collecting thousands of pending requests and timers.
 */
const MAX_CONCURRENT_PUBLISHES = 256;
/** Events that end a linger early. */
const LINGER_BATCH = 256;

/**
 * Publishes domain events to JetStream (`@nats-io/jetstream`) without ever failing a request:
 * events wait in a bounded queue and are retried until acknowledged (EventPublishQueue); a reply
 * may wait for its event to be stored (ReplyWaits); a full queue drops the new event loudly.
 */
export function createJetStreamEventPublisher(
  nc: NatsConnection,
  config: EventsConfig,
  logger: Logger,
  /** The live configuration's revision in force, stamped on every event (undefined: the file's alone). */
  configRevision: () => number | undefined = () => undefined,
): EventPublisher {
  const { meter } = getInstruments();
  const queue = new EventPublishQueue({
    publish: publishTo(jetstream(nc), config.publish_timeout_ms),
    maxInFlight: MAX_CONCURRENT_PUBLISHES,
    lingerMs: config.linger_ms,
    lingerBatch: LINGER_BATCH,
    logger,
  });
  const atRiskCounter = meter.createCounter(METRIC.eventsAtRisk, {
    description: "Replies sent before their event was stored (the event is still retried)",
  });
  const waits = new ReplyWaits(config.before_reply_max_ms, logger, atRiskCounter);
  const drops = new DropCount(
    meter.createCounter(METRIC.eventsDropped, { description: "Events dropped on a full queue" }),
    logger,
  );
  meter
    .createObservableGauge(METRIC.eventQueueDepth, {
      description: "Events waiting for or in a JetStream publish",
    })
    .addCallback((result) => result.observe(queue.queued + queue.inFlight));
  const holdsReplies = config.delivery === "before_reply";

  return {
    emit(subject, build, storedBy) {
      if (queue.queued >= config.queue_capacity) {
        drops.queueFull(subject, build, config.queue_capacity);
        return;
      }
      let event: DomainEvent;
      try {
        event = build();
      } catch (error) {
        // A builder bug must not fail the request the event is about: counted and logged instead.
        drops.notBuilt(subject, error);
        return;
      }
      const revision = configRevision();
      if (revision !== undefined) event.config_revision = revision;
      const queued = { subject, event };
      const replyWaits = holdsReplies && storedBy !== undefined;
      // The wait first: an event refused at once must still find its reply waiting.
      const stored = replyWaits ? waits.waitFor(queued, storedBy) : undefined;
      queue.add(queued, replyWaits);
      return stored;
    },
    stats: () => ({
      queued: queue.queued,
      in_flight: queue.inFlight,
      published: queue.published,
      retries: queue.retries,
      dropped: drops.count,
      at_risk: waits.atRisk,
    }),
    flush: (timeoutMs) => queue.flush(timeoutMs),
    close: () => queue.close(),
  };
}

/** One JetStream publish: the event id as `Nats-Msg-Id`, so that a retry is stored once. */
function publishTo(js: JetStreamClient, timeoutMs: number): PublishEvent {
  return async function publishEvent(subject, data, event) {
    const options: Partial<JetStreamPublishOptions> = { msgID: event.id, timeout: timeoutMs };
    const traceparent = "traceparent" in event ? event.traceparent : undefined;
    if (traceparent) {
      options.headers = createHeaders();
      options.headers.set("traceparent", traceparent);
    }
    await js.publish(subject, data, options);
  };
}

/** Events dropped (a full queue, a builder that throws): counted, and logged — never silently. */
class DropCount {
  readonly #counter: Counter;
  readonly #logger: Logger;
  #count = 0;
  #lastLog = 0;

  constructor(counter: Counter, logger: Logger) {
    this.#counter = counter;
    this.#logger = logger;
  }

  get count(): number {
    return this.#count;
  }

  /** Logged at most once a second: a full queue sees every new event. */
  queueFull(subject: EventSubject, build: () => DomainEvent, capacity: number): void {
    this.#add(subject);
    const now = Date.now();
    if (now - this.#lastLog <= 1_000) return;
    this.#lastLog = now;
    this.#logger.error(
      { event_id: idOf(build), subject, dropped_total: this.#count, capacity },
      "event queue full; event dropped",
    );
  }

  notBuilt(subject: EventSubject, error: unknown): void {
    this.#add(subject);
    this.#logger.error(
      { subject, err: error instanceof Error ? error.message : String(error) },
      "event not built",
    );
  }

  #add(subject: EventSubject): void {
    this.#count++;
    this.#counter.add(1, { subject });
  }
}

/** The id of the event `build` makes, for a log line; undefined when the builder throws (emit never does). */
function idOf(build: () => DomainEvent): string | undefined {
  try {
    return build().id;
  } catch {
    return undefined;
  }
}
