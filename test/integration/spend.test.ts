// llm-provider.qry.get_spend through the real service over NATS: the exact cost, tokens and
// request count of chat and embedding answers per day, month and model; a budget with metadata
// tags refuses only requests carrying them; a provider batch's cost (at the batch price) is
// counted into the same spend.
import { LlmProviderError, SUBJECTS } from "@llm-provider/contracts";
import type { GetSpend, SpendReport } from "@llm-provider/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConfigInput } from "../../services/llm-provider/src/config/schema.js";
import { periodStartOf } from "../../services/llm-provider/src/domain/budgets.js";
import { startFakeOpenAIServer, type FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer, type NatsServerHandle } from "../harness/nats-server.js";
import {
  embedderModel,
  startTestService,
  testConfig,
  TEST_API_KEY,
  type TestService,
} from "../support/service.js";
import { waitForEvents } from "../support/events.js";
import type { StoredEvent } from "../support/events.js";
import { eventually } from "../support/until.js";

let nats: NatsServerHandle;
let upstream: FakeOpenAIServer;
let service: TestService;

const EMBEDDER_PRICE = 2; // USD per million input tokens; a provider batch pays half
/** The tagged budget: a few embeddings' worth of tokens. */
const TAGGED_TOKENS = 10;
const TAG = { team: "nightly" };

beforeAll(async () => {
  [nats, upstream] = await Promise.all([startNatsServer(), startFakeOpenAIServer({ apiKey: TEST_API_KEY })]);
  const base = testConfig(nats.url, [upstream.baseUrl]);
  const config: ConfigInput = {
    ...base,
    providers: base.providers.map((provider) => ({ ...provider, batch: { poll_interval_ms: 50 } })),
    models: [
      ...base.models,
      embedderModel({ cost: { input_per_million: EMBEDDER_PRICE, output_per_million: 0 } }),
    ],
    callers: {
      contexts: {
        anonymous: {
          budgets: [
            { period: "day", usd: 1_000 },
            { period: "day", tokens: TAGGED_TOKENS, metadata: TAG },
            { period: "month", tokens: 1_000_000_000, model: "embedder" },
          ],
        },
      },
    },
    jobs: { ack_wait_ms: 2_000, retry_base_ms: 50, batch_items: 64, provider_batch_lease_ms: 2_000 },
  };
  service = await startTestService(config);
});

afterAll(async () => {
  await service?.stop();
  await upstream?.close();
  await nats?.stop();
});

const hello = (text: string) => ({ model: "model-0", messages: [{ role: "user" as const, content: text }] });
const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

/** get_spend once its counts hold `requests` answers (the per-model counts follow the reply). */
async function spendOnce(request: GetSpend, requests: number): Promise<SpendReport> {
  return await eventually(
    () => service.client.getSpend(request),
    (report) =>
      report.totals.requests === requests && sum(report.models.map((row) => row.requests)) === requests,
  );
}

describe("get_spend", () => {
  it("reports the exact cost and tokens of chat and embedding answers, in total and per model", async () => {
    const chats = [
      await service.client.completeChat(hello("one")),
      await service.client.completeChat(hello("two")),
    ];
    const embedding = await service.client.generateEmbedding({ model: "embedder", input: ["spend me"] });
    const chatUsd = sum(chats.map((chat) => chat.usage.cost.total));
    const chatTokens = sum(chats.map((chat) => chat.usage.total_tokens));
    expect(chatUsd).toBeGreaterThan(0);
    expect(embedding.usage.cost.total).toBeGreaterThan(0);

    const day = await spendOnce({ period: "day" }, 3);
    expect(day).toMatchObject({
      caller: "anonymous",
      period: "day",
      period_start: periodStartOf("day", Date.now()),
    });
    expect(day.totals.usd).toBeCloseTo(chatUsd + embedding.usage.cost.total, 15);
    expect(day.totals.tokens).toBe(chatTokens + embedding.usage.total_tokens);
    expect(day.models).toEqual([
      { model: "model-0", usd: expect.closeTo(chatUsd, 15) as number, tokens: chatTokens, requests: 2 },
      {
        model: "embedder",
        usd: expect.closeTo(embedding.usage.cost.total, 15) as number,
        tokens: embedding.usage.total_tokens,
        requests: 1,
      },
    ]);
    // The day's budgets: the one for all requests counted everything, the tagged one nothing.
    expect(day.budgets).toEqual([
      expect.objectContaining({
        budget: 0,
        limit: { usd: 1_000 },
        used: { usd: day.totals.usd, tokens: day.totals.tokens },
      }),
      expect.objectContaining({
        budget: 1,
        metadata: TAG,
        used: { usd: 0, tokens: 0 },
        remaining: { tokens: TAGGED_TOKENS },
        exceeded: false,
      }),
    ]);
    expect(day.budgets[0]!.remaining.usd).toBeCloseTo(1_000 - day.totals.usd, 12);

    const month = await spendOnce({ period: "month" }, 3);
    expect(month.period_start).toBe(periodStartOf("month", Date.now()));
    expect(month.totals).toEqual(day.totals);
    expect(month.budgets).toEqual([
      expect.objectContaining({
        budget: 2,
        model: "embedder",
        used: { usd: embedding.usage.cost.total, tokens: embedding.usage.total_tokens },
      }),
    ]);

    const embedderOnly = await service.client.getSpend({ period: "day", model: "embedder" });
    expect(embedderOnly.totals).toEqual({
      usd: embedding.usage.cost.total,
      tokens: embedding.usage.total_tokens,
      requests: 1,
    });
    expect(embedderOnly.models.map((row) => row.model)).toEqual(["embedder"]);
  });

  it("reports nothing for a day nothing was spent, and refuses a date that is not one", async () => {
    const past = await service.client.getSpend({ period: "day", date: "2020-02-29" });
    expect(past).toMatchObject({
      period_start: "2020-02-29",
      totals: { usd: 0, tokens: 0, requests: 0 },
      models: [],
    });
    for (const request of [
      { period: "day" as const, date: "2026-02-30" },
      { period: "month" as const, date: "2026-12-06" },
      { period: "day" as const, date: "2026-12" },
    ]) {
      const refused = await service.client.getSpend(request).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(LlmProviderError);
      expect(refused).toMatchObject({ code: "invalid_request", field: "date" });
    }
    await expect(service.client.getSpend({ period: "week" } as unknown as GetSpend)).rejects.toMatchObject({
      code: "invalid_request",
      field: "period",
    });
  });
});

describe("a budget with metadata tags", () => {
  it("refuses only the requests carrying its tags once they spent it", async () => {
    const tagged = async (index: number) =>
      await service.client.generateEmbedding({
        model: "embedder",
        input: [`tagged text ${index}`],
        metadata: TAG,
      });
    let index = 0;
    let refused: unknown;
    const answered: number[] = [];
    while (index < 50) {
      const outcome = await tagged(index++).then(
        (answer) => answer.usage.total_tokens,
        (error: unknown) => error,
      );
      if (typeof outcome !== "number") {
        refused = outcome;
        break;
      }
      answered.push(outcome);
    }
    expect(refused).toMatchObject({
      code: "budget_exceeded",
      details: { budget: 1, period: "day", metadata: TAG, limit: { tokens: TAGGED_TOKENS } },
    });
    expect(sum(answered)).toBeGreaterThanOrEqual(TAGGED_TOKENS);
    expect(sum(answered.slice(0, -1))).toBeLessThan(TAGGED_TOKENS);
    const upstreamCalls = upstream.requests.length;
    await expect(tagged(index++)).rejects.toMatchObject({ code: "budget_exceeded" });
    expect(upstream.requests.length).toBe(upstreamCalls);

    // Untagged requests, and requests with another value of the tag, are served.
    await expect(
      service.client.generateEmbedding({ model: "embedder", input: ["untagged"] }),
    ).resolves.toBeDefined();
    await expect(
      service.client.generateEmbedding({
        model: "embedder",
        input: ["other team"],
        metadata: { team: "daytime" },
      }),
    ).resolves.toBeDefined();
    await expect(
      service.client.completeChat({ ...hello("untagged chat"), metadata: { other: "x" } }),
    ).resolves.toBeDefined();

    // Reaching it was announced, with its tags.
    const reached = (all: StoredEvent[]) =>
      all.filter(
        (stored) =>
          stored.event.type === SUBJECTS.budgetThresholdReachedEvent && stored.event.data["budget"] === 1,
      );
    const events = reached(await waitForEvents(service.nc, (all) => reached(all).length >= 2));
    expect(events.map((stored) => stored.event.data)).toEqual([
      expect.objectContaining({ threshold_percent: 80, metadata: TAG }),
      expect.objectContaining({ threshold_percent: 100, metadata: TAG, limit: { tokens: TAGGED_TOKENS } }),
    ]);

    const day = await service.client.getSpend({ period: "day" });
    expect(day.budgets[1]).toMatchObject({
      budget: 1,
      metadata: TAG,
      used: { tokens: sum(answered) },
      remaining: { tokens: 0 },
      exceeded: true,
    });
  });
});

describe("a provider_batch job", () => {
  it("adds its cost at the batch price to its caller's spend, once", async () => {
    const before = await service.client.getSpend({ period: "day", model: "embedder" });
    const job = await service.client.submitEmbeddingJob({
      model: "embedder",
      mode: "provider_batch",
      items: ["batched one", "batched two", "batched three"],
    });
    for await (const result of job) expect(result.ok).toBe(true);
    const status = await job.status();
    expect(status).toMatchObject({ state: "completed", succeeded: 3 });
    expect(status.usage.cost.total).toBeCloseTo(
      (status.usage.prompt_tokens * EMBEDDER_PRICE * 0.5) / 1_000_000,
      15,
    );

    const after = await spendOnce({ period: "day", model: "embedder" }, before.totals.requests + 1);
    expect(after.totals.usd - before.totals.usd).toBeCloseTo(status.usage.cost.total, 15);
    expect(after.totals.tokens - before.totals.tokens).toBe(status.usage.prompt_tokens);
    const month = await spendOnce({ period: "month", model: "embedder" }, after.totals.requests);
    expect(month.totals.tokens).toBe(after.totals.tokens);
  });
});
