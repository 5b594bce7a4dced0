import { ROOT_CONTEXT } from "@opentelemetry/api";
import { nuid } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "pino";
import type { Config } from "../config/schema.js";
import { pollProviderBatches, submitProviderBatch } from "../handlers/jobs/provider-batch-jobs.js";
import type { ProviderBatchDeps } from "../handlers/jobs/provider-batch-jobs.js";
import { runJobBatch } from "../handlers/jobs/run-job-batch.js";
import { spendRequestOf } from "../handlers/request-admission.js";
import type { admitRequest } from "../handlers/request-admission.js";
import type { CallerBudgets } from "../routing/caller-budgets.js";
import type { JobBatchDeps } from "../handlers/jobs/run-job-batch.js";
import { createKvProviderBatchStore } from "../infra/kv/kv-provider-batch-store.js";
import type { Catalog } from "../domain/catalog.js";
import type { ProviderBatchClient } from "../ports/provider-batch-client.js";
import { batchTargetOf, pollEveryMs } from "./provider-batch-targets.js";
import { createJetStreamJobItems, startJobItemsWorker } from "../infra/jetstream/job-items-consumer.js";
import type { JobItemsWorker } from "../infra/jetstream/job-items-consumer.js";
import { createJetStreamJobResults } from "../infra/jetstream/job-results-log.js";
import { createKvJobStore } from "../infra/kv/kv-job-store.js";
import type { CallerIdentity } from "../infra/nats/caller-identity.js";
import type { EventSink } from "../ports/event-sink.js";
import type { JobItemsQueue, JobResultsLog, JobStore } from "../ports/job-store.js";
import type { RequestContext } from "../ports/request-handler.js";

/** Bound of one job store or results operation (KV and JetStream answer in milliseconds). */
const OPERATION_TIMEOUT_MS = 5_000;

export interface JobPorts {
  store: JobStore;
  results: JobResultsLog;
  items: JobItemsQueue;
}

/** The job adapters, and the worker that runs job items through generate_embedding in the process. */
export function startJobs(
  nc: NatsConnection,
  config: Config,
  callers: CallerIdentity,
  /** `catalog`: the live one, read at each use, so that a job follows an applied configuration. */
  providerBatches: { catalog: () => Catalog; clients: ReadonlyMap<string, ProviderBatchClient> },
) {
  const jobs = config.jobs;
  const ports: JobPorts = {
    store: createKvJobStore(nc, { bucket: jobs.bucket, timeoutMs: OPERATION_TIMEOUT_MS }),
    results: createJetStreamJobResults(nc, {
      stream: jobs.results_stream,
      timeoutMs: OPERATION_TIMEOUT_MS,
      maxPageBytes: () => nc.info?.max_payload ?? 1_048_576,
    }),
    items: createJetStreamJobItems(nc, jobs),
  };
  return {
    ports,
    startWorker(
      compute: Pick<JobBatchDeps, "embed" | "chat"> & {
        admit: (context: RequestContext, check: Parameters<typeof admitRequest>[2]) => Promise<void>;
        recordSpend: CallerBudgets["record"];
      },
      events: EventSink,
      logger: Logger,
    ): JobItemsWorker {
      const gaveUp = new AbortController();
      const contextFor = (
        caller: string,
        jobId: string,
        requestId = `job-${jobId}-${nuid.next()}`,
      ): RequestContext => {
        return {
          requestId,
          requestIdFromCaller: false,
          caller,
          receivedAt: performance.now(),
          log: logger.child({ caller, job_id: jobId, request_id: requestId }),
          signal: gaveUp.signal,
          trace: ROOT_CONTEXT,
        };
      };
      const batchDeps: ProviderBatchDeps = {
        jobs: ports.store,
        results: ports.results,
        events,
        batches: createKvProviderBatchStore(nc, { bucket: jobs.bucket, timeoutMs: OPERATION_TIMEOUT_MS }),
        targetOf: (job, submitting) =>
          batchTargetOf(providerBatches.catalog(), providerBatches.clients, job, submitting),
        clientOf: (providerId) => providerBatches.clients.get(providerId),
        recordSpend: (job, spent) =>
          compute.recordSpend(
            job.caller,
            spendRequestOf({ model: job.model, metadata: job.metadata }),
            spent,
          ),
        leaseMs: jobs.provider_batch_lease_ms,
        retryBaseMs: jobs.retry_base_ms,
        signal: gaveUp.signal,
        warn: (fields, message) => logger.warn(fields, message),
        admit: (job, check) =>
          compute.admit(contextFor(job.caller, job.job_id), {
            ...check,
            operation: "embedding",
            model: job.model,
            metadata: job.metadata,
            deadline: performance.now() + jobs.batch_timeout_ms,
          }),
      };
      const worker = startJobItemsWorker(
        nc,
        jobs,
        callers,
        async (caller, jobId, items) => {
          // provider_batch jobs are submitted whole to the provider; every other job runs now.
          const job = await ports.store.read(caller, jobId);
          if (job?.mode === "provider_batch" && job.state !== "cancelled" && job.state !== "completed")
            return submitProviderBatch(batchDeps, job, items);
          return runJobBatch(
            {
              jobs: ports.store,
              results: ports.results,
              events,
              embed: compute.embed,
              chat: compute.chat,
              contextFor,
              maxDeliveries: jobs.max_deliveries,
              retryBaseMs: jobs.retry_base_ms,
              batchTimeoutMs: jobs.batch_timeout_ms,
              chatConcurrency: jobs.chat_concurrency,
            },
            caller,
            jobId,
            items,
          );
        },
        logger,
      );
      const poller = startProviderBatchPoller(batchDeps, pollEveryMs(providerBatches.catalog()), logger);
      return {
        async stop(graceMs) {
          await poller.stop();
          await worker.stop(graceMs);
          gaveUp.abort();
        },
      };
    },
  };
}

/** Every worker polls the due provider batches on a timer; one round at a time. */
function startProviderBatchPoller(deps: ProviderBatchDeps, everyMs: number, logger: Logger) {
  let round: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    round = round
      .then(() => pollProviderBatches(deps))
      .catch((error: unknown) => logger.warn({ err: error }, "a round of provider batch polls failed"));
  }, everyMs);
  return {
    async stop() {
      clearInterval(timer);
      await round;
    },
  };
}
