import { describe, expect, it } from "vitest";
import {
  claimForPoll,
  customIdOf,
  nextPoll,
  providerBatchKey,
  type ProviderBatchRecord,
} from "./provider-batch-jobs.js";

const record: ProviderBatchRecord = {
  caller: "memory",
  job_id: "j1",
  provider_id: "openai",
  batch_id: "batch_abc",
  item_ids: ["a", "b"],
  submitted_at: "2026-12-05T00:00:00.000Z",
  next_poll_at: "2026-12-05T00:01:00.000Z",
  lease_until: null,
};

describe("provider batch records", () => {
  it("are claimed only when due and not held, and a lapsed claim can be taken over", () => {
    expect(claimForPoll(record, new Date("2026-12-05T00:00:30Z"), 10_000)).toBeUndefined();
    const claimed = claimForPoll(record, new Date("2026-12-05T00:01:00Z"), 10_000)!;
    expect(claimed.lease_until).toBe("2026-12-05T00:01:10.000Z");
    expect(claimForPoll(claimed, new Date("2026-12-05T00:01:05Z"), 10_000)).toBeUndefined();
    expect(claimForPoll(claimed, new Date("2026-12-05T00:01:10Z"), 10_000)?.lease_until).toBe(
      "2026-12-05T00:01:20.000Z",
    );
  });
  it("release the claim and move the next poll on after a batch still running", () => {
    const claimed = claimForPoll(record, new Date("2026-12-05T00:01:00Z"), 10_000)!;
    expect(nextPoll(claimed, new Date("2026-12-05T00:01:02Z"), 60_000)).toMatchObject({
      lease_until: null,
      next_poll_at: "2026-12-05T00:02:02.000Z",
    });
  });
  it("have KV-safe keys and custom ids Anthropic takes", () => {
    expect(providerBatchKey("anthropic", "msgbatch_01+/x")).toMatch(/^pbatch\.[-/=.\w]+$/);
    expect(customIdOf(12)).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
  });
});
