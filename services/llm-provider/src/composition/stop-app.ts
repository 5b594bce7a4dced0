import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "pino";
import type { Agent } from "undici";
import type { JobItemsWorker } from "../infra/jetstream/job-items-consumer.js";
import type { RunningService } from "../infra/nats/micro-service.js";
import type { ResumableStreams } from "../ports/resumable-streams.js";
import type { CallerBudgets } from "../routing/caller-budgets.js";
import { withinMs } from "../shared/within-ms.js";
import type { SharedState } from "./shared-state.js";

/** The least time buffered state gets to reach JetStream at shutdown, however long the drain took. */
const MIN_FLUSH_MS = 1_000;

export interface RunningParts {
  service: RunningService;
  state: SharedState;
  /** Drained at the end when the app made it; left alone when it was given one. */
  ownedConnection: NatsConnection | undefined;
  dispatcher: Agent;
  logger: Logger;
  /** The job items worker, when jobs are enabled. */
  jobWorker: JobItemsWorker | undefined;
  /** Kept messages of resumable streams, when enabled. */
  resumableStreams: ResumableStreams | undefined;
  /** Spend counts still being written after their replies went. */
  callerBudgets: Pick<CallerBudgets, "flush">;
}

/**
 * Graceful stop: no new requests, the ones in flight finish within `graceMs`, then whatever is
 * still buffered gets one window to reach JetStream, and the connection drains.
 */
export async function stopApp(parts: RunningParts, graceMs: number): Promise<void> {
  const { service, state, logger } = parts;
  const started = performance.now();
  logger.info({ in_flight: service.inFlight(), grace_ms: graceMs }, "stopping: draining requests");
  // Batches of job items finish with the requests; items not yet taken stay queued for others.
  await Promise.all([service.stop(graceMs), parts.jobWorker?.stop(graceMs)]);
  // One window for everything still buffered (vectors being written, health snapshots, events):
  // what the drain left of the grace, never less than MIN_FLUSH_MS. The flushes run side by side,
  // so a JetStream that does not answer costs one window, not one per buffer.
  const flushMs = Math.max(graceMs - (performance.now() - started), MIN_FLUSH_MS);
  const [, left, journalsLeft] = await Promise.all([
    // Vectors already answered but still being written: stored now, or their claims expire.
    state.embeddingCache?.flush(flushMs),
    state.events?.flush(flushMs),
    withinMs(state.health.close(), flushMs).catch(() => undefined),
    // The last batches of resumable streams, their terminal messages among them.
    parts.resumableStreams?.flush(flushMs),
    parts.callerBudgets.flush(flushMs),
  ]);
  if (journalsLeft !== undefined && journalsLeft > 0)
    logger.warn({ streams_left: journalsLeft }, "resumable streams not fully kept at shutdown");
  state.embeddingCache?.close();
  await state.breakers.close();
  if (state.events) {
    if (left !== undefined && left > 0)
      logger.error({ events_left: left, ...state.events.stats() }, "events not acknowledged at shutdown");
    state.events.close();
  }
  if (parts.ownedConnection) await parts.ownedConnection.drain();
  // Every request has its reply by now; cut whatever upstream calls are left.
  await parts.dispatcher.destroy();
  logger.info("stopped");
}
