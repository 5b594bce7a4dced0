import { jetstream } from "@nats-io/jetstream";
import { isRevisionConflict } from "./kv-revision-conflict.js";
import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { jobKey } from "../../domain/jobs.js";
import type { JobRecord } from "../../domain/jobs.js";
import type { JobStore } from "../../ports/job-store.js";

/** Workers finishing batches of one job at once write its record in turn; this many tries is plenty. */
const MAX_UPDATE_TRIES = 50;

/** Job records in a KV bucket, one key per (caller, job id); every change compare-and-set. */
export function createKvJobStore(
  nc: NatsConnection,
  options: { bucket: string; timeoutMs: number },
): JobStore {
  const kv: Promise<KV> = new Kvm(jetstream(nc, { timeout: options.timeoutMs, checkAPI: false })).open(
    options.bucket,
    { allow_direct: true },
  );
  kv.catch(() => undefined);

  async function read(key: string): Promise<{ record: JobRecord; revision: number } | undefined> {
    const entry = await (await kv).get(key);
    if (entry === null || entry.operation !== "PUT") return undefined;
    return { record: entry.json<JobRecord>(), revision: entry.revision };
  }

  return {
    async create(record) {
      const key = jobKey(record.caller, record.job_id);
      try {
        await (await kv).create(key, JSON.stringify(record));
        return { created: true };
      } catch (error) {
        if (!isRevisionConflict(error)) throw error;
      }
      const existing = await read(key);
      if (!existing) throw new Error(`job ${record.job_id} was removed while it was being created`);
      return { existing: existing.record };
    },
    async read(caller, jobId) {
      return (await read(jobKey(caller, jobId)))?.record;
    },
    async update(caller, jobId, change) {
      const key = jobKey(caller, jobId);
      for (let attempt = 0; attempt < MAX_UPDATE_TRIES; attempt++) {
        const current = await read(key);
        if (!current) return undefined;
        const after = change(current.record);
        if (after === current.record) return { before: current.record, after };
        try {
          await (await kv).update(key, JSON.stringify(after), current.revision);
          return { before: current.record, after };
        } catch (error) {
          if (!isRevisionConflict(error)) throw error;
        }
      }
      throw new Error(`job ${jobId} kept changing under ${MAX_UPDATE_TRIES} updates`);
    },
  };
}
