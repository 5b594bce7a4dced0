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
function world(
  onFirstCount: (stored: { counts: ResultCounts; record: JobRecord }) => void,
  page: JobResultsLog["page"] = () => Promise.reject(new Error("not used")),
) {
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
    page,
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

describe("get_job and get_job_results of a job whose last batch did not move it on", () => {
  const sealedWithEveryResult = (stored: { record: JobRecord; counts: ResultCounts }) => {
    stored.record = { ...stored.record, state: "sealed", total_items: 9 };
  };

  it("get_job_results completes it, announces it once, and says complete only on the next page", async () => {
    const { stored, handlers, emitted } = world(
      () => undefined,
      () => Promise.resolve({ results: [], more: false }),
    );
    sealedWithEveryResult(stored);
    const first = (await handlers[SUBJECTS.getJobResults]({ job_id: "j1", after_seq: 9 }, context)) as {
      state: string;
      complete: boolean;
    };
    // A result might have been stored after this page was read: the caller reads once more.
    expect(first).toMatchObject({ state: "completed", complete: false });
    expect(stored.record.state).toBe("completed");
    expect(emitted).toEqual([SUBJECTS.jobFinishedEvent]);
    const second = await handlers[SUBJECTS.getJobResults]({ job_id: "j1", after_seq: 9 }, context);
    expect(second).toMatchObject({ state: "completed", complete: true });
    expect(emitted).toEqual([SUBJECTS.jobFinishedEvent]);
  });

  it("get_job completes it too; a job with a result missing stays sealed", async () => {
    const done = world(() => undefined);
    sealedWithEveryResult(done.stored);
    expect(await done.handlers[SUBJECTS.getJob]({ job_id: "j1" }, context)).toMatchObject({
      state: "completed",
    });
    expect(done.emitted).toEqual([SUBJECTS.jobFinishedEvent]);

    const missing = world(() => undefined);
    missing.stored.record = { ...missing.stored.record, state: "sealed", total_items: 10 };
    expect(await missing.handlers[SUBJECTS.getJob]({ job_id: "j1" }, context)).toMatchObject({
      state: "sealed",
    });
    expect(missing.emitted).toEqual([]);
  });
});
