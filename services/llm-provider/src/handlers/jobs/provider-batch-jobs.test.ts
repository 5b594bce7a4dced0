import { LlmProviderError } from "@llm-provider/contracts";
import { describe, expect, it } from "vitest";
import { newJobRecord } from "../../domain/jobs.js";
import type { JobRecord } from "../../domain/jobs.js";
import type { NewJobResult } from "../../ports/job-store.js";
import type { ProviderBatchClient } from "../../ports/provider-batch-client.js";
import { submitProviderBatch } from "./provider-batch-jobs.js";
import type { ProviderBatchDeps } from "./provider-batch-jobs.js";

/** A provider_batch job whose provider records what it is sent, and whose results are kept here. */
function setup(admit: ProviderBatchDeps["admit"]) {
  let record: JobRecord = newJobRecord(
    { job_id: "j1", kind: "embedding", model: "embedder", encoding_format: "float", mode: "provider_batch" },
    "ingest",
    new Date(0),
    "prefix",
  );
  const submitted: string[][] = [];
  const stored: NewJobResult[] = [];
  const client = {
    providerId: "p0",
    submitEmbeddings: (submission: { items: readonly { input: string }[] }) => {
      submitted.push(submission.items.map((item) => item.input));
      return Promise.resolve("batch_1");
    },
  } as unknown as ProviderBatchClient;
  const deps: ProviderBatchDeps = {
    jobs: {
      create: () => Promise.reject(new Error("not used")),
      read: () => Promise.resolve(record),
      update: (_caller, _job, change) => {
        const before = record;
        record = change(before);
        return Promise.resolve({ before, after: record });
      },
    },
    results: {
      append: (_key, results) => {
        stored.push(...results);
        return Promise.resolve(results.map(() => true));
      },
      counts: () => Promise.resolve({ succeeded: 0, failed: stored.length }),
      page: () => Promise.reject(new Error("not used")),
    },
    events: { emit: () => undefined },
    batches: {
      create: () => Promise.resolve(),
      keys: () => Promise.resolve([]),
      change: () => Promise.resolve(undefined),
      remove: () => Promise.resolve(),
    },
    targetOf: () => ({
      client,
      providerId: "p0",
      upstreamModel: "text-embedding-3-small",
      dimensions: 8,
      pricing: { input_per_million: 0.01, output_per_million: 0 },
      pollIntervalMs: 1_000,
    }),
    clientOf: () => client,
    admit,
    recordSpend: () => Promise.reject(new Error("not used")),
    leaseMs: 1_000,
    retryBaseMs: 100,
    signal: new AbortController().signal,
    warn: () => undefined,
  };
  const items = ["a", "b"].map((input, index) => ({
    body: { id: `i${index}`, input },
    fallbackId: `i${index}`,
    deliveries: 1,
  }));
  return { deps, items, submitted, stored, job: () => record };
}

describe("a provider batch", () => {
  it("is submitted once the caller's limits and the Policy Gateway let it through", async () => {
    const asked: unknown[] = [];
    const { deps, items, submitted, job } = setup((_job, check) => {
      asked.push(check);
      return Promise.resolve();
    });
    expect(await submitProviderBatch(deps, job(), items)).toEqual([{ kind: "done" }, { kind: "done" }]);
    expect(asked).toEqual([{ providerId: "p0", estimatedTokens: expect.any(Number) as number }]);
    expect(submitted).toEqual([["a", "b"]]);
  });

  it("is not submitted when the Policy Gateway denies it: every item gets the denial", async () => {
    const { deps, items, submitted, stored, job } = setup(() =>
      Promise.reject(
        new LlmProviderError("policy_denied", "no batches for ingest", { details: { policy_id: "P-7" } }),
      ),
    );
    expect(await submitProviderBatch(deps, job(), items)).toEqual([{ kind: "done" }, { kind: "done" }]);
    expect(submitted).toEqual([]);
    expect(stored).toMatchObject([
      { item_id: "i0", ok: false, error: { code: "policy_denied" } },
      { item_id: "i1", ok: false, error: { code: "policy_denied" } },
    ]);
  });

  it("waits when the caller is over its limits (retryable): the items come again", async () => {
    const { deps, items, submitted, stored, job } = setup(() =>
      Promise.reject(new LlmProviderError("rate_limited", "caller over its tpm")),
    );
    expect(await submitProviderBatch(deps, job(), items)).toEqual([
      { kind: "retry", delayMs: 100 },
      { kind: "retry", delayMs: 100 },
    ]);
    expect(submitted).toEqual([]);
    expect(stored).toEqual([]);
  });
});
