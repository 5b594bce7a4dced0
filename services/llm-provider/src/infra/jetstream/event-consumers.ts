import {
  AckPolicy,
  DeliverPolicy,
  jetstreamManager,
  JetStreamApiCodes,
  JetStreamApiError,
} from "@nats-io/jetstream";
import type { ConsumerConfig } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import type { EventsConfig } from "../../config/schema.js";
import type { EnsureOutcome } from "../kv/ensure-kv-bucket.js";

/**
 * Creates the durable pull consumers of the event stream that other contexts read (through the
 * exports of their account), or brings them to the configured settings. Only the bootstrap does
 * this: a consumer made from outside could be a push consumer whose deliver subject publishes
 * into the service's account.
 */
export async function ensureEventConsumers(
  nc: NatsConnection,
  events: EventsConfig,
): Promise<{ name: string; outcome: EnsureOutcome }[]> {
  const jsm = await jetstreamManager(nc);
  const done: { name: string; outcome: EnsureOutcome }[] = [];
  for (const consumer of events.consumers) {
    const settings: Partial<ConsumerConfig> = {
      ack_wait: nanos(consumer.ack_wait_ms),
      max_ack_pending: consumer.max_ack_pending,
      ...(consumer.filter_subject ? { filter_subject: consumer.filter_subject } : {}),
    };
    let current: ConsumerConfig | undefined;
    try {
      current = (await jsm.consumers.info(events.stream, consumer.name)).config;
    } catch (error) {
      if (!(error instanceof JetStreamApiError) || error.code !== JetStreamApiCodes.ConsumerNotFound)
        throw error;
    }
    if (!current) {
      await jsm.consumers.add(events.stream, {
        durable_name: consumer.name,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ...settings,
      });
      done.push({ name: consumer.name, outcome: "created" });
      continue;
    }
    const same =
      current.ack_wait === settings.ack_wait &&
      current.max_ack_pending === settings.max_ack_pending &&
      (current.filter_subject ?? "") === (settings.filter_subject ?? "");
    if (!same) await jsm.consumers.update(events.stream, consumer.name, settings);
    done.push({ name: consumer.name, outcome: same ? "unchanged" : "updated" });
  }
  return done;
}
