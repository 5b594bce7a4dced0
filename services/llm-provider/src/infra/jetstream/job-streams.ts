import {
  AckPolicy,
  DeliverPolicy,
  jetstreamManager,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import type { ConsumerConfig, JetStreamManager, StreamConfig } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import type { JobsConfig } from "../../config/schema.js";
import type { EnsureOutcome } from "../kv/ensure-kv-bucket.js";
import { ensureStream } from "./ensure-stream.js";

/**
 * Where callers publish items: `llm-provider.job_items.<job>` with one account, and
 * `llm-provider.ctx.<context>.job_items.<job>` through a caller account's import (the server sets
 * the context token, as for requests).
 */
export const JOB_ITEM_SUBJECTS = ["llm-provider.job_items.*", "llm-provider.ctx.*.job_items.*"];
/** Results: `llm-provider.job_results.<job key>.<ok|error>`, written by workers only. */
export const JOB_RESULTS_PREFIX = "llm-provider.job_results.";

/** The item and result streams and the workers' durable consumer; created or reshaped. Idempotent. */
export async function ensureJobStreams(
  nc: NatsConnection,
  config: JobsConfig,
  apply: boolean,
): Promise<{ kind: "stream" | "consumer"; name: string; outcome: EnsureOutcome }[]> {
  const jsm = await jetstreamManager(nc);
  const shared: Partial<StreamConfig> = {
    storage: StorageType.File,
    num_replicas: config.replicas,
    max_age: nanos(config.retention_ms),
    duplicate_window: nanos(config.duplicate_window_ms),
  };
  const items = await ensureStream(
    jsm,
    config.items_stream,
    { ...shared, subjects: JOB_ITEM_SUBJECTS, retention: RetentionPolicy.Workqueue },
    apply,
  );
  const results = await ensureStream(
    jsm,
    config.results_stream,
    { ...shared, subjects: [`${JOB_RESULTS_PREFIX}>`], retention: RetentionPolicy.Limits },
    apply,
  );
  const consumer = items === "missing" ? "missing" : await ensureWorkerConsumer(jsm, config, apply);
  return [
    { kind: "stream", name: config.items_stream, outcome: items },
    { kind: "stream", name: config.results_stream, outcome: results },
    { kind: "consumer", name: config.consumer, outcome: consumer },
  ];
}

/**
 * One durable pull consumer shared by every worker: JetStream hands each item to one of them and
 * gives an unacknowledged one to another after `ack_wait`. Deliveries are unbounded here: the
 * worker turns an item tried `max_deliveries` times into an error result, so none is lost.
 */
async function ensureWorkerConsumer(
  jsm: JetStreamManager,
  config: JobsConfig,
  apply: boolean,
): Promise<EnsureOutcome> {
  const desired: Partial<ConsumerConfig> = {
    durable_name: config.consumer,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(config.ack_wait_ms),
    max_ack_pending: config.max_ack_pending,
    max_deliver: -1,
  };
  try {
    const current = (await jsm.consumers.info(config.items_stream, config.consumer)).config;
    if (current.ack_wait === desired.ack_wait && current.max_ack_pending === desired.max_ack_pending)
      return "unchanged";
    if (!apply) return "differs";
    await jsm.consumers.update(config.items_stream, config.consumer, {
      ack_wait: desired.ack_wait!,
      max_ack_pending: desired.max_ack_pending!,
    });
    return "updated";
  } catch (error) {
    if (!(error instanceof JetStreamApiError) || error.code !== JetStreamApiCodes.ConsumerNotFound)
      throw error;
    if (!apply) return "missing";
    await jsm.consumers.add(config.items_stream, desired);
    return "created";
  }
}
