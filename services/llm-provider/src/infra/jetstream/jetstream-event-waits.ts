import type { EventSubject } from "@llm-provider/contracts";
import type { Counter } from "@opentelemetry/api";
import type { Logger } from "pino";
import type { QueuedEvent } from "./jetstream-event-queue.js";

/**
 * Replies waiting for their event to be stored (`events.delivery: before_reply`). A wait ends when
 * the event is acknowledged, or at its bound (`before_reply_max_ms`, never past the request's
 * deadline): then the reply goes anyway, and the event, still retried, is at risk until stored —
 * counted, and logged at most once a second.
 */
export class ReplyWaits {
  readonly #maxWaitMs: number;
  readonly #logger: Logger;
  readonly #atRiskCounter: Counter;
  #atRisk = 0;
  #lastLog = 0;

  constructor(maxWaitMs: number, logger: Logger, atRiskCounter: Counter) {
    this.#maxWaitMs = maxWaitMs;
    this.#logger = logger;
    this.#atRiskCounter = atRiskCounter;
  }

  /** Replies that went out before their event was stored. */
  get atRisk(): number {
    return this.#atRisk;
  }

  /** Settles when `queued` is stored or at `storedBy` (`performance.now()` clock), whichever is first. */
  waitFor(queued: QueuedEvent, storedBy: number): Promise<void> {
    const waitMs = Math.max(0, Math.min(this.#maxWaitMs, storedBy - performance.now()));
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        queued.stored = undefined;
        this.#countAtRisk(queued.event.id, queued.subject, waitMs);
        resolve();
      }, waitMs);
      queued.stored = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  #countAtRisk(eventId: string, subject: EventSubject, waitedMs: number): void {
    this.#atRisk++;
    this.#atRiskCounter.add(1, { subject });
    const now = Date.now();
    if (now - this.#lastLog <= 1_000) return;
    this.#lastLog = now;
    this.#logger.warn(
      { event_id: eventId, subject, waited_ms: Math.round(waitedMs), at_risk_total: this.#atRisk },
      "reply sent before its event was stored; the event is still retried",
    );
  }
}
