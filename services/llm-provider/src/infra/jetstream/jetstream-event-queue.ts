import type { DomainEvent, EventSubject } from "@llm-provider/contracts";
import type { Logger } from "pino";

/** An event between `emit` and JetStream's acknowledgement of it. */
export interface QueuedEvent {
  subject: EventSubject;
  /**
   * Built when emitted: a small object, where the builder would hold the request and the answer
   * (prompts and content) for as long as the event waits.
   */
  event: DomainEvent;
  /** Serialised at the first publish, kept for retries. */
  data?: string;
  /** Settles the reply waiting for this event to be stored (`events.delivery: before_reply`). */
  stored?: () => void;
}

/** Publishes one event; settles with the stream's acknowledgement (a duplicate's included) or why not. */
export type PublishEvent = (subject: EventSubject, data: string, event: DomainEvent) => Promise<unknown>;

export interface EventQueueOptions {
  publish: PublishEvent;
  /** Publishes awaiting their acknowledgement at once; more wait in the queue. */
  maxInFlight: number;
  /** How long events no reply waits for are gathered before they are published together. */
  lingerMs: number;
  /** Events that end a linger early. */
  lingerBatch: number;
  logger: Logger;
}

const RETRY_INITIAL_MS = 100;
const RETRY_MAX_MS = 5_000;

/**
 * The events of one worker on their way to JetStream, in order. At most `maxInFlight` publishes
 * await their acknowledgement; a publish that is not acknowledged goes back to the front and is
 * retried with the same `Nats-Msg-Id` (the stream de-duplicates one that did land) after a
 * backoff that pauses the whole queue, since such failures are rarely about one event.
 *
 * Events no reply waits for linger: published together, they leave in one socket write (nats.js
 * writes what is published in one task at once) and their acknowledgements arrive together.
 */
export class EventPublishQueue {
  readonly #options: EventQueueOptions;
  readonly #waiting: QueuedEvent[] = [];
  /** Resolved when nothing is queued or in flight; while any waits, nothing lingers. */
  readonly #idleWaiters = new Set<() => void>();
  #inFlight = 0;
  #published = 0;
  #retries = 0;
  /** The waiting events are to be published (as soon as the bound and the backoff allow). */
  #due = false;
  #pausedUntil = 0;
  #retryDelayMs = RETRY_INITIAL_MS;
  #lingerTimer: NodeJS.Timeout | undefined;
  #resumeTimer: NodeJS.Timeout | undefined;
  #endOfTurn: NodeJS.Immediate | undefined;
  #closed = false;

  constructor(options: EventQueueOptions) {
    this.#options = options;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get published(): number {
    return this.#published;
  }

  get retries(): number {
    return this.#retries;
  }

  /** Queues an event; `urgent`: a reply waits for it, so it does not linger. */
  add(queued: QueuedEvent, urgent: boolean): void {
    this.#waiting.push(queued);
    const { lingerMs, lingerBatch } = this.#options;
    const lingers = !urgent && lingerMs > 0 && this.#waiting.length < lingerBatch;
    if (lingers && !this.#due && this.#idleWaiters.size === 0) {
      this.#lingerTimer ??= setTimeout(() => {
        this.#lingerTimer = undefined;
        this.#makeDue();
      }, lingerMs);
      return;
    }
    // At the end of this event-loop turn: the events of every request that finished in the turn
    // then leave in one socket write, instead of one write each.
    this.#endOfTurn ??= setImmediate(() => {
      this.#endOfTurn = undefined;
      this.#makeDue();
    });
  }

  /** Publishes what lingers and waits until everything is acknowledged, or `timeoutMs` passes; returns how many are left. */
  flush(timeoutMs: number): Promise<number> {
    if (this.#isIdle()) return Promise.resolve(0);
    return new Promise<number>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#idleWaiters.delete(done);
        resolve(this.#waiting.length + this.#inFlight);
      };
      const timer = setTimeout(done, timeoutMs);
      this.#idleWaiters.add(done);
      this.#makeDue();
    });
  }

  /** Publishes nothing more; acknowledgements still to come are counted, nothing is retried. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#lingerTimer);
    clearTimeout(this.#resumeTimer);
    clearImmediate(this.#endOfTurn);
    this.#lingerTimer = this.#resumeTimer = this.#endOfTurn = undefined;
  }

  #makeDue(): void {
    clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
    this.#due = true;
    this.#pump();
  }

  #pump(): void {
    if (this.#closed || !this.#due) return;
    const wait = this.#pausedUntil - Date.now();
    if (wait > 0) {
      this.#resumeTimer ??= setTimeout(() => {
        this.#resumeTimer = undefined;
        this.#pump();
      }, wait);
      return;
    }
    while (this.#inFlight < this.#options.maxInFlight && this.#waiting.length > 0)
      this.#publish(this.#waiting.shift()!);
    if (this.#waiting.length === 0) this.#due = false;
  }

  #publish(queued: QueuedEvent): void {
    this.#inFlight++;
    const data = (queued.data ??= JSON.stringify(queued.event));
    this.#options.publish(queued.subject, data, queued.event).then(
      () => this.#settle(queued),
      (error: unknown) => this.#settle(queued, error),
    );
  }

  #settle(queued: QueuedEvent, error?: unknown): void {
    this.#inFlight--;
    if (error === undefined) {
      this.#published++;
      this.#retryDelayMs = RETRY_INITIAL_MS;
      queued.stored?.();
      queued.stored = undefined;
    } else {
      this.#retries++;
      this.#waiting.unshift(queued);
      this.#due = true;
      if (!this.#closed) this.#pauseAfter(queued, error);
    }
    this.#pump();
    if (this.#isIdle()) for (const resolve of [...this.#idleWaiters]) resolve();
  }

  /** JetStream is likely away: one log line per pause, not one per event in flight. */
  #pauseAfter(queued: QueuedEvent, error: unknown): void {
    if (this.#pausedUntil > Date.now()) return;
    this.#options.logger.warn(
      {
        event_id: queued.event.id,
        subject: queued.subject,
        retry_in_ms: this.#retryDelayMs,
        err: error instanceof Error ? error.message : String(error),
      },
      "event not acknowledged; will retry",
    );
    this.#pausedUntil = Date.now() + this.#retryDelayMs;
    this.#retryDelayMs = Math.min(this.#retryDelayMs * 2, RETRY_MAX_MS);
  }

  #isIdle(): boolean {
    return this.#waiting.length === 0 && this.#inFlight === 0;
  }
}
