import type { DomainEvent, EventSubject } from "@llm-provider/contracts";

/**
 * Where handlers hand their domain events. `emit` never throws; delivery (with retries) is the
 * sink's job. Handlers await what it returns before they reply: with `events.delivery:
 * before_reply` it settles once JetStream stored the event (or at `storedBy`, whichever is first:
 * the event is then still retried, and counted at risk), so a worker that dies after replying has
 * lost no event; with `after_reply` it is settled at once.
 */
export interface EventSink {
  /**
   * `build` runs only when the event is kept (events enabled, room in the queue); serialising it
   * waits until it is published. It must not depend on ambient state. `storedBy`: the request's
   * deadline (`performance.now()` clock), past which the reply does not wait for the event.
   */
  emit(subject: EventSubject, build: () => DomainEvent, storedBy?: number): Promise<void> | void;
}
