import { ROOT_CONTEXT } from "@opentelemetry/api";
import { SUBJECTS } from "@llm-provider/contracts";
import type { JobStatus } from "@llm-provider/contracts";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { jobKey, newJobRecord } from "../../domain/jobs.js";
import type { JobRecord, ResultCounts } from "../../domain/jobs.js";
import type { JobResultsLog, JobStore } from "../../ports/job-store.js";
import type { RequestContext } from "../../ports/request-handler.js";
import { createJobHandlers } from "./job-commands.js";

const context: RequestContext = {
  requestId: "r1",
  requestIdFromCaller: false,
  caller: "ingest",
  receivedAt: 0,
  log: pino({ level: "silent" }),
  signal: new AbortController().signal,
  trace: ROOT_CONTEXT,
};

/** One job in memory; `counts` may change the world the first time it is read (a batch landing). */
function world(onFirstCount: (stored: { counts: ResultCounts; record: JobRecord }) => void) {
  const stored = {
    record: newJobRecord(
      { job_id: "j1", kind: "embedding", model: "embedder", encoding_format: "float", mode: "realtime" },
      "ingest",
      new Date(0),
      "prefix",
    ),
    counts: { succeeded: 9, failed: 0 },
  };
  let counted = 0;
  const jobs: JobStore = {
    create: () => Promise.reject(new Error("not used")),
    read: () => Promise.resolve(stored.record),
    update: (_caller, _job, change) => {
      const before = stored.record;
      stored.record = change(before);
      return Promise.resolve({ before, after: stored.record });
    },
  };
  const results: JobResultsLog = {
    append: () => Promise.reject(new Error("not used")),
    counts: (key) => {
      expect(key).toBe(jobKey("ingest", "j1"));
      if (counted++ === 0) {
        const now = { ...stored.counts };
        onFirstCount(stored);
        return Promise.resolve(now);
      }
      return Promise.resolve({ ...stored.counts });
    },
    page: () => Promise.reject(new Error("not used")),
  };
  const emitted: string[] = [];
  const handlers = createJobHandlers({
    catalog: () => {
      throw new Error("not used");
    },
    jobs,
    results,
    items: { discard: () => Promise.resolve(0) },
    events: { emit: (type) => void emitted.push(type) },
    newId: () => "id",
    now: () => new Date(1_000),
  });
  return { stored, handlers, emitted };
}

describe("seal_job", () => {
  it("completes a job whose last result landed (and saw the job open) while it was being sealed", async () => {
    const { handlers, emitted } = world((stored) => {
      // The last batch: its result stored, its update finds the job open and leaves it so.
      stored.counts = { succeeded: 10, failed: 0 };
    });
    const status = (await handlers[SUBJECTS.sealJob](
      { job_id: "j1", total_items: 10 },
      context,
    )) as JobStatus;
    expect(status).toMatchObject({ state: "completed", total_items: 10, succeeded: 10 });
    expect(emitted).toEqual([SUBJECTS.jobFinishedEvent]);
  });

  it("leaves a job sealed while results are missing", async () => {
    const { handlers, emitted } = world(() => undefined);
    const status = (await handlers[SUBJECTS.sealJob](
      { job_id: "j1", total_items: 10 },
      context,
    )) as JobStatus;
    expect(status).toMatchObject({ state: "sealed", total_items: 10, succeeded: 9 });
    expect(emitted).toEqual([]);
  });
});

describe("get_job", () => {
  it("sends the job_finished event a dead worker did not, once", async () => {
    const { stored, handlers, emitted } = world(() => undefined);
    stored.record = {
      ...stored.record,
      state: "completed",
      total_items: 9,
      finished_at: new Date(0).toISOString(),
    };
    await handlers[SUBJECTS.getJob]({ job_id: "j1" }, context);
    expect(emitted).toEqual([SUBJECTS.jobFinishedEvent]);
    expect(stored.record.finish_announced).toBe(true);
    await handlers[SUBJECTS.getJob]({ job_id: "j1" }, context);
    expect(emitted).toEqual([SUBJECTS.jobFinishedEvent]);
  });
});
