// get_spend under the shipped accounts: a caller reads its own spend only. The caller is the
// context the server put into the subject (decision 0001), so neither a body field, nor the
// subject of another context, nor the spend bucket itself gets one caller another's counts.
import type { NatsConnection } from "@nats-io/nats-core";
import { createLlmProviderClient, SUBJECTS } from "@llm-provider/contracts";
import type { LlmProviderClient } from "@llm-provider/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { periodStartOf } from "../../services/llm-provider/src/domain/budgets.js";
import { spendKeyOf } from "../../services/llm-provider/src/infra/kv/kv-spend-ledger.js";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { TEST_API_KEY } from "../support/service.js";
import { eventually } from "../support/until.js";
import {
  accountsServiceConfig,
  connectAs,
  describeError,
  startAccountsServer,
  startPolicyGateway,
  startWorker,
} from "./accounts.js";
import type { RunningWorker } from "./accounts.js";

let nats: NatsServerHandle;
let upstream: FakeOpenAIServer;
let worker: RunningWorker;
let gateway: Awaited<ReturnType<typeof startPolicyGateway>>;
const connections: NatsConnection[] = [];
let clients: Record<"query" | "memory", LlmProviderClient>;
let memory: { nc: NatsConnection; violations: string[] };

beforeAll(async () => {
  nats = await startAccountsServer();
  upstream = await startFakeOpenAIServer({ apiKey: TEST_API_KEY });
  gateway = await startPolicyGateway(nats);
  worker = await startWorker(
    nats,
    accountsServiceConfig(nats.url, upstream.baseUrl, {
      callers: {
        contexts: { query: { budgets: [{ period: "day", usd: 1 }] }, memory: {}, ingest: {} },
      },
    }),
  );
  const query = await connectAs(nats, "query");
  memory = await connectAs(nats, "memory");
  connections.push(query.nc, memory.nc);
  clients = { query: createLlmProviderClient(query.nc), memory: createLlmProviderClient(memory.nc) };
});

afterAll(async () => {
  for (const nc of connections) await nc?.close();
  await worker?.app.stop(1_000);
  await gateway?.close();
  await upstream?.close();
  await nats?.stop();
});

const hello = { model: "model-0", messages: [{ role: "user" as const, content: "Hello there" }] };

describe("get_spend", () => {
  it("answers each caller with its own spend only", async () => {
    const answers = [await clients.query.completeChat(hello), await clients.query.completeChat(hello)];
    const memoryAnswer = await clients.memory.generateEmbedding({ model: "embedder", input: ["mine"] });
    const query = await eventually(
      () => clients.query.getSpend({ period: "day" }),
      (report) => report.models.length === 1 && report.totals.requests === 2,
    );
    expect(query.caller).toBe("query");
    expect(query.totals.usd).toBeCloseTo(answers[0]!.usage.cost.total + answers[1]!.usage.cost.total, 15);
    expect(query.models.map((row) => row.model)).toEqual(["model-0"]);
    expect(query.budgets).toEqual([expect.objectContaining({ budget: 0, limit: { usd: 1 } })]);

    const mine = await eventually(
      () => clients.memory.getSpend({ period: "day" }),
      (report) => report.models.length === 1,
    );
    expect(mine).toMatchObject({
      caller: "memory",
      totals: { usd: memoryAnswer.usage.cost.total, tokens: memoryAnswer.usage.total_tokens, requests: 1 },
      models: [{ model: "embedder", requests: 1 }],
      budgets: [],
    });
    // Asking for the other caller's model finds nothing of the other caller's.
    const other = await clients.memory.getSpend({ period: "day", model: "model-0" });
    expect(other).toMatchObject({ caller: "memory", totals: { requests: 0 }, models: [] });
  });

  it("takes no caller from the body", async () => {
    const reply = await memory.nc.request(
      SUBJECTS.getSpend,
      JSON.stringify({ period: "day", caller: "query" }),
      { timeout: 5_000 },
    );
    expect(reply.json()).toMatchObject({ error: { code: "invalid_request", field: "caller" } });
  });

  it("cannot be asked on another context's subject, nor read from the spend bucket", async () => {
    const day = periodStartOf("day", Date.now());
    const attempts = [
      `llm-provider.ctx.query.qry.get_spend`,
      `$JS.API.DIRECT.GET.KV_llm_provider_spend.${spendKeyOf({ caller: "query", period: "day", periodStart: day })}`,
      `$KV.llm_provider_spend.${spendKeyOf({ caller: "query", period: "day", periodStart: day })}`,
    ];
    for (const subject of attempts) {
      const outcome = await memory.nc
        .request(subject, JSON.stringify({ period: "day" }), { timeout: 1_000 })
        .then((reply) => `answered: ${reply.string()}`, describeError);
      expect(outcome, subject).not.toMatch(/^answered/);
    }
    await eventually(
      () => Promise.resolve(memory.violations.length),
      (count) => count >= attempts.length,
    );
    for (const subject of attempts) {
      expect(
        memory.violations.some((violation) => violation.includes(subject)),
        subject,
      ).toBe(true);
    }
  });
});
