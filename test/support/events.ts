// Reads what the event stream holds, for assertions.
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";

export interface StoredEvent {
  subject: string;
  msgId: string | undefined;
  event: {
    id: string;
    type: string;
    request_id: string;
    caller: string;
    data: Record<string, unknown>;
  } & Record<string, unknown>;
}

export async function readEvents(nc: NatsConnection, stream = "LLM_PROVIDER_EVENTS"): Promise<StoredEvent[]> {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(stream);
  const events: StoredEvent[] = [];
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    const stored = await jsm.streams.getMessage(stream, { seq });
    if (!stored) continue;
    events.push({ subject: stored.subject, msgId: stored.header?.get("Nats-Msg-Id"), event: stored.json() });
  }
  return events;
}

/** Polls until `predicate` holds for the stream's events, or fails with what was there. */
export async function waitForEvents(
  nc: NatsConnection,
  predicate: (events: StoredEvent[]) => boolean,
  timeoutMs = 10_000,
  stream = "LLM_PROVIDER_EVENTS",
): Promise<StoredEvent[]> {
  const until = Date.now() + timeoutMs;
  let events: StoredEvent[] = [];
  while (Date.now() < until) {
    events = await readEvents(nc, stream).catch(() => []);
    if (predicate(events)) return events;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `events never matched; stream holds ${events.length}: ${JSON.stringify(events.map((e) => e.event.type))}`,
  );
}

/**
 * Empties the event stream between tests: first lets the service publish what it still holds
 * (events linger a few ms before they are sent), so a late event of the last test can't land
 * after the purge.
 */
export async function purgeEvents(
  service: {
    app: { events?: { flush(timeoutMs: number): Promise<number> } | undefined };
    nc: NatsConnection;
  },
  stream = "LLM_PROVIDER_EVENTS",
): Promise<void> {
  await service.app.events?.flush(5_000);
  const jsm = await jetstreamManager(service.nc);
  await jsm.streams.purge(stream);
}
