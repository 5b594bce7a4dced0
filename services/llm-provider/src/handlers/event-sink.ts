import type { DomainEvent, EventSubject } from "@llm-provider/contracts";

/**
 * Where handlers hand their domain events. `emit` never blocks and never throws: the reply to the
 * caller does not wait on the event store; delivery (with retries) is the sink's job.
 */
export interface EventSink {
  emit(subject: EventSubject, event: DomainEvent): void;
}
