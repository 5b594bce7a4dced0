// Budgets per caller (callers.contexts.<caller>.budgets): counted in the shared spend bucket from
// the answers' real cost, a caller past one is refused with `budget_exceeded` before any upstream
// call, while other callers (and other models of a per-model budget) go on.
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { createLlmProviderClient, LlmProviderError, SUBJECTS } from "@llm-provider/contracts";
import type { LlmProviderClient } from "@llm-provider/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spendKeyOf } from "../../services/llm-provider/src/infra/kv/kv-spend-ledger.js";
import { periodStartOf } from "../../services/llm-provider/src/domain/budgets.js";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { waitForEvents } from "../support/events.js";
import { eventually } from "../support/until.js";
import { TEST_API_KEY } from "../support/service.js";
import { collectStream } from "../support/streams.js";
import {
  accountsServiceConfig,
  connectAs,
  startAccountsServer,
  startPolicyGateway,
  startWorker,
} from "./accounts.js";
import type { RunningWorker } from "./accounts.js";

/** query's daily budget in USD: a few chat answers' worth at model-0's prices. */
const QUERY_DAILY_USD = 0.0001;
/** ingest's monthly budget in tokens for the embedder only. */
const INGEST_EMBEDDER_TOKENS = 12;

let nats: NatsServerHandle;
let upstream: FakeOpenAIServer;
let worker: RunningWorker;
let gateway: Awaited<ReturnType<typeof startPolicyGateway>>;
const connections: NatsConnection[] = [];
let clients: Record<"query" | "memory" | "ingest", LlmProviderClient>;
let admin: NatsConnection;

beforeAll(async () => {
  nats = await startAccountsServer();
  upstream = await startFakeOpenAIServer({ apiKey: TEST_API_KEY });
  gateway = await startPolicyGateway(nats);
  worker = await startWorker(
    nats,
    accountsServiceConfig(nats.url, upstream.baseUrl, {
      callers: {
        contexts: {
          query: { budgets: [{ period: "day", usd: QUERY_DAILY_USD }] },
          memory: {},
          ingest: { budgets: [{ period: "month", tokens: INGEST_EMBEDDER_TOKENS, model: "embedder" }] },
        },
      },
    }),
  );
  const client = async (role: "query" | "memory" | "ingest") => {
    const { nc } = await connectAs(nats, role);
    connections.push(nc);
    return createLlmProviderClient(nc);
  };
  clients = { query: await client("query"), memory: await client("memory"), ingest: await client("ingest") };
  admin = (await connectAs(nats, "bootstrap")).nc;
});

afterAll(async () => {
  for (const nc of [...connections, admin]) await nc?.close();
  await worker?.app.stop(1_000);
  await gateway?.close();
  await upstream?.close();
  await nats?.stop();
});

const hello = { model: "model-0", messages: [{ role: "user" as const, content: "Hello there" }] };

/** Sends `send` until it is refused (at most `max` times): the answers before, and the refusal. */
async function spendUntilRefused<T>(send: () => Promise<T>, max: number) {
  const answers: T[] = [];
  for (let sent = 0; sent < max; sent++) {
    const outcome = await send().then(
      (answer) => ({ answer }),
      (error: unknown) => ({ error }),
    );
    if ("error" in outcome) return { answers, refused: outcome.error };
    answers.push(outcome.answer);
  }
  return { answers, refused: undefined };
}

describe("a caller's budget", () => {
  it("refuses the caller once its answers' cost reaches it, before any upstream call", async () => {
    const { answers, refused } = await spendUntilRefused(() => clients.query.completeChat(hello), 50);
    expect(refused).toBeInstanceOf(LlmProviderError);
    const error = refused as LlmProviderError;
    expect(error.code).toBe("budget_exceeded");
    expect(error.retryable).toBe(false);
    const costs = answers.map((answer) => answer.usage.cost.total);
    expect(costs.every((cost) => cost > 0)).toBe(true);
    const total = costs.reduce((sum, cost) => sum + cost, 0);
    // Admitted while below the limit, refused at the first request after reaching it: one
    // worker, each answer counted before its reply.
    expect(total).toBeGreaterThanOrEqual(QUERY_DAILY_USD);
    expect(total - costs.at(-1)!).toBeLessThan(QUERY_DAILY_USD);
    expect(error.details).toMatchObject({
      budget: 0,
      period: "day",
      period_start: periodStartOf("day", Date.now()),
      limit: { usd: QUERY_DAILY_USD },
    });
    expect((error.details!["spent"] as { usd: number }).usd).toBeCloseTo(total, 12);
    expect((error.details!["spent"] as { tokens: number }).tokens).toBe(
      answers.reduce((sum, answer) => sum + answer.usage.total_tokens, 0),
    );
    // The refused request never reached the provider.
    expect(upstream.requests.filter((request) => request.path.endsWith("/chat/completions"))).toHaveLength(
      answers.length,
    );
  });

  it("is announced at 80 % and at 100 %, once each", async () => {
    const reached = (all: Awaited<ReturnType<typeof waitForEvents>>) =>
      all.filter((stored) => stored.event.type === SUBJECTS.budgetThresholdReachedEvent);
    const events = reached(await waitForEvents(admin, (all) => reached(all).length >= 2));
    expect(events.map((stored) => stored.event)).toEqual([
      expect.objectContaining({
        caller: "query",
        data: expect.objectContaining({ budget: 0, period: "day", threshold_percent: 80 }),
      }),
      expect.objectContaining({
        caller: "query",
        data: expect.objectContaining({
          threshold_percent: 100,
          period_start: periodStartOf("day", Date.now()),
          limit: { usd: QUERY_DAILY_USD },
        }),
      }),
    ]);
    const spentAt = events.map((stored) => (stored.event.data as { spent: { usd: number } }).spent.usd);
    expect(spentAt[0]).toBeGreaterThanOrEqual(0.8 * QUERY_DAILY_USD);
    expect(spentAt[1]).toBeGreaterThanOrEqual(QUERY_DAILY_USD);
  });

  it("refuses the caller's streams and embeddings too, and nobody else", async () => {
    const before = upstream.requests.length;
    const streamed = await collectStream(clients.query.streamChat(hello));
    expect(streamed.error).toMatchObject({ code: "budget_exceeded" });
    await expect(
      clients.query.generateEmbedding({ model: "embedder", input: ["text"] }),
    ).rejects.toMatchObject({
      code: "budget_exceeded",
    });
    expect(upstream.requests.length).toBe(before);
    // Another caller, without a budget, is served.
    expect((await clients.memory.completeChat(hello)).content).toBe("echo: Hello there");
  });

  it("of one model holds back that model only", async () => {
    let text = 0;
    const { answers, refused } = await spendUntilRefused(
      () => clients.ingest.generateEmbedding({ model: "embedder", input: [`text number ${text++}`] }),
      50,
    );
    expect(refused).toMatchObject({
      code: "budget_exceeded",
      details: { period: "month", model: "embedder", limit: { tokens: INGEST_EMBEDDER_TOKENS } },
    });
    const tokens = answers.map((answer) => answer.usage.total_tokens);
    expect(tokens.reduce((sum, count) => sum + count, 0)).toBeGreaterThanOrEqual(INGEST_EMBEDDER_TOKENS);
    expect(tokens.slice(0, -1).reduce((sum, count) => sum + count, 0)).toBeLessThan(INGEST_EMBEDDER_TOKENS);
    // The same caller's chat, another model, is served.
    expect((await clients.ingest.completeChat(hello)).content).toBe("echo: Hello there");
  });

  it("is counted in the shared spend bucket per caller, period and model", async () => {
    const kv = await new Kvm(admin).open("llm_provider_spend");
    const day = periodStartOf("day", Date.now());
    const read = async (key: string) => (await kv.get(key))?.json<{ usd: number; requests: number }>();
    const queryDay = await read(spendKeyOf({ caller: "query", period: "day", periodStart: day }));
    // The per-model count is no budget's: the worker writes it with its next interval's sums.
    const queryModel = await eventually(
      () => read(spendKeyOf({ caller: "query", period: "day", periodStart: day, model: "model-0" })),
      (spent) => spent?.requests === queryDay?.requests,
    );
    expect(queryDay!.usd).toBeGreaterThanOrEqual(QUERY_DAILY_USD);
    // The all-models count names the models it was spent on (get_spend's rows).
    expect(queryDay).toMatchObject({ models: ["model-0"] });
    expect({ ...queryModel, models: ["model-0"] }).toEqual(queryDay);
    // memory has no budget: its answer is still counted (spend.enabled, for get_spend), after its reply.
    const memoryDay = await eventually(
      () => read(spendKeyOf({ caller: "memory", period: "day", periodStart: day })),
      (spent) => spent !== undefined,
    );
    expect(memoryDay).toMatchObject({ requests: 1 });
  });
});
