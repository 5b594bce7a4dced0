import { describe, expect, it } from "vitest";
import {
  addUsage,
  sumUsage,
  cancelJob,
  completeIfDone,
  decideOnBatchFailure,
  jobKey,
  newJobRecord,
  progressPassed,
  sealJob,
} from "./jobs.js";

const created = newJobRecord(
  { job_id: "j1", kind: "embedding", model: "embedder", encoding_format: "float", mode: "realtime" },
  "memory",
  new Date("2026-12-05T00:00:00Z"),
  "prefix",
);
const now = new Date("2026-12-05T01:00:00Z");

describe("job keys", () => {
  it("differ by caller for the same job id, and are one subject token", () => {
    expect(jobKey("memory", "j1")).not.toBe(jobKey("query", "j1"));
    expect(jobKey("memory", "j1")).toMatch(/^[0-9a-f]{40}$/);
  });
});

describe("sealing", () => {
  it("fixes the count once; the same count again changes nothing, another is refused", () => {
    const sealed = sealJob(created, 10, { succeeded: 3, failed: 0 });
    expect(sealed).toMatchObject({ state: "sealed", total_items: 10 });
    expect(sealJob(sealed, 10, { succeeded: 3, failed: 0 })).toBe(sealed);
    expect(() => sealJob(sealed, 11, { succeeded: 3, failed: 0 })).toThrow(/sealed with 10/);
  });

  it("refuses a count below the results already stored, and a cancelled job", () => {
    expect(() => sealJob(created, 2, { succeeded: 3, failed: 0 })).toThrow(/more than 2/);
    expect(() => sealJob(cancelJob(created, now), 2, { succeeded: 0, failed: 0 })).toThrow(/cancelled/);
  });
});

describe("completion and progress", () => {
  const sealed = sealJob(created, 10, { succeeded: 0, failed: 0 });

  it("completes a sealed job once every item has a result, failures included", () => {
    expect(completeIfDone(sealed, { succeeded: 8, failed: 1 }, now)).toBe(sealed);
    expect(completeIfDone(sealed, { succeeded: 8, failed: 2 }, now)).toMatchObject({
      state: "completed",
      finished_at: now.toISOString(),
    });
    expect(completeIfDone(created, { succeeded: 10, failed: 0 }, now)).toBe(created);
  });

  it("announces each tenth once, never 100 (the finish says that)", () => {
    expect(progressPassed(sealed, { succeeded: 0, failed: 0 })).toBeUndefined();
    expect(progressPassed(sealed, { succeeded: 3, failed: 1 })).toBe(40);
    expect(progressPassed({ ...sealed, progress_percent: 40 }, { succeeded: 4, failed: 0 })).toBeUndefined();
    expect(progressPassed(sealed, { succeeded: 10, failed: 0 })).toBeUndefined();
    expect(progressPassed(created, { succeeded: 5, failed: 0 })).toBeUndefined();
  });

  it("a cancelled or completed job stays as it is when cancelled", () => {
    const cancelled = cancelJob(sealed, now);
    expect(cancelled).toMatchObject({ state: "cancelled", finished_at: now.toISOString() });
    expect(cancelJob(cancelled, new Date())).toBe(cancelled);
  });

  it("adds what a batch spent", () => {
    const spent = addUsage(created, {
      prompt_tokens: 7,
      completion_tokens: 0,
      cost: { currency: "USD", input: 0.25, output: 0, total: 0.25 },
    });
    const chat = sumUsage([
      {
        prompt_tokens: 2,
        completion_tokens: 4,
        cost: { currency: "USD", input: 0.25, output: 0.5, total: 0.75 },
      },
      {
        prompt_tokens: 1,
        completion_tokens: 1,
        cost: { currency: "USD", input: 0, output: 0.25, total: 0.25 },
      },
    ]);
    expect(addUsage(spent, chat).usage).toEqual({
      prompt_tokens: 10,
      completion_tokens: 5,
      cost: { currency: "USD", input: 0.5, output: 0.75, total: 1.25 },
    });
  });
});

describe("a failed batch", () => {
  const rateLimited = {
    code: "rate_limited" as const,
    message: "slow down",
    retryable: true,
    retry_after_ms: 500,
  };
  const final = { code: "context_length_exceeded" as const, message: "too long", retryable: false };

  it("is tried again later while retryable, backing off and honouring retry-after", () => {
    expect(decideOnBatchFailure(rateLimited, 5, { count: 1, max: 8 }, 100)).toEqual({
      kind: "retry",
      delayMs: 500,
    });
    expect(decideOnBatchFailure(rateLimited, 5, { count: 4, max: 8 }, 100)).toEqual({
      kind: "retry",
      delayMs: 800,
    });
  });

  it("is split to find the item at fault when final, and fails that item alone", () => {
    expect(decideOnBatchFailure(final, 5, { count: 1, max: 8 }, 100)).toEqual({ kind: "split" });
    expect(decideOnBatchFailure(final, 1, { count: 1, max: 8 }, 100)).toEqual({ kind: "fail", error: final });
  });

  it("becomes the item's result once it was delivered as often as allowed", () => {
    expect(decideOnBatchFailure(rateLimited, 1, { count: 8, max: 8 }, 100)).toEqual({
      kind: "fail",
      error: rateLimited,
    });
  });
});
