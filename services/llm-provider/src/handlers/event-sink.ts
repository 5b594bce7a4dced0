import type { DomainEvent, EventSubject } from "@llm-provider/contracts";

/**
 * Where handlers hand their domain events. `emit` never blocks and never throws: the reply to the
 * caller does not wait on the event store; delivery (with retries) is the sink's job.
 */
export interface EventSink {
  /**
   * `build` runs only when the event is kept (events enabled, room in the queue); serialising it
   * waits until it is published, off the request's path. It must not depend on ambient state.
   */
  emit(subject: EventSubject, build: () => DomainEvent): void;
}
