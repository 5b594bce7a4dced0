// Provider health while a node of a 3-node JetStream cluster is lost (issue 18): the node that
// leads the health bucket dies, taking a worker's connection with it. Until the bucket has a new
// leader its reads are not answered; every `get_provider_health` (one provider, and the aggregate)
// must still answer within 1 s — fresh, or from the answering worker's last known state marked
// `stale` with its age — never a hang, never an error.
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { createLlmProviderClient, LlmProviderError } from "@llm-provider/contracts";
import type { AggregateHealth, LlmProviderClient, ProviderHealth } from "@llm-provider/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../services/llm-provider/src/config/load-config.js";
import type { ConfigInput } from "../../services/llm-provider/src/config/schema.js";
import { ensureJetStreamState } from "../../services/llm-provider/src/infra/jetstream/jetstream-state.js";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsCluster } from "../harness/nats-cluster.js";
import type { NatsClusterHandle } from "../harness/nats-cluster.js";
import { startTestService, testConfig } from "../support/service.js";
import type { TestService } from "../support/service.js";
import { eventually } from "../support/until.js";
import { countWorkers } from "../support/workers.js";

/** What every health query must answer within, node lost or not (issue 18). */
const QUERY_DEADLINE_MS = 1_000;
/** How long the queries go on at most: the bucket's election, and its first fresh read, are well within. */
const OUTAGE_BOUND_MS = 25_000;
/** Chats per provider before the loss: each worker's window and the bucket hold some. */
const CHATS_PER_PROVIDER = 24;

const HEALTH_BUCKET = "llm_provider_health";
const STATE_STREAMS = [
  `KV_${HEALTH_BUCKET}`,
  "KV_llm_provider_breakers",
  "KV_llm_provider_rate_limits",
  "KV_llm_provider_spend",
  "KV_llm_provider_embeddings",
  "KV_llm_provider_requests",
  "OBJ_llm_provider_replies",
  "LLM_PROVIDER_JOB_ITEMS",
  "LLM_PROVIDER_JOB_RESULTS",
  "KV_llm_provider_jobs",
  "LLM_PROVIDER_STREAMS",
];

let cluster: NatsClusterHandle;
let upstream: FakeOpenAIServer;
let caller: NatsConnection | undefined;
let client: LlmProviderClient;
const workers: TestService[] = [];
/** The node that led the health bucket (the one lost). */
let lost: number;

function clusterConfig(servers: string | string[]): ConfigInput {
  const config = testConfig(
    typeof servers === "string" ? servers : servers[0]!,
    [upstream.baseUrl, upstream.baseUrl],
    {
      nats: { servers },
      events: { enabled: false },
      embedding_cache: { replicas: 3 },
      health: { replicas: 3, flush_interval_ms: 300 },
      circuit_breaker: { failure_threshold: 1_000, replicas: 3 },
      rate_limits: { replicas: 3 },
      spend: { replicas: 3 },
      idempotency: { replicas: 3 },
      jobs: { replicas: 3 },
      resumable_streams: { replicas: 3 },
    },
  );
  // A budget, so that `rate_limit_status` reads the shared count (the rate-limits bucket) too.
  config.providers[0]!.config = { ...config.providers[0]!.config, rpm: 100_000 };
  return config;
}

beforeAll(async () => {
  cluster = await startNatsCluster(3);
  upstream = await startFakeOpenAIServer({ recordRequests: false });
  const setup = await connect({ servers: cluster.urls });
  try {
    await ensureJetStreamState(setup, parseConfig(clusterConfig(cluster.urls), "cluster test"));
  } finally {
    await setup.close();
  }
  await cluster.waitForHealthy(STATE_STREAMS);
  lost = await cluster.streamLeader(`KV_${HEALTH_BUCKET}`);
  // Worker A on the node that will be lost, B and the caller on the others (the caller is never
  // cut off, so that every query it sends is the service's to answer).
  workers.push(await startTestService(clusterConfig(cluster.urls[lost]!)));
  workers.push(await startTestService(clusterConfig(cluster.urls[(lost + 1) % 3]!)));
  caller = await connect({ servers: cluster.urls[(lost + 2) % 3]! });
  client = createLlmProviderClient(caller);
}, 60_000);

afterAll(async () => {
  await Promise.all(workers.map((worker) => worker.stop().catch(() => undefined)));
  await caller?.close();
  await upstream?.close();
  await cluster?.stop();
}, 30_000);

interface Answer {
  /** ms since the node was lost */
  atMs: number;
  tookMs: number;
  what: "p0" | "aggregate";
  reply?: ProviderHealth | AggregateHealth;
  error?: string;
}

interface ModelListAnswer {
  tookMs: number;
  models?: string[];
  error?: string;
}

const errorText = (error: unknown): string =>
  error instanceof LlmProviderError ? `${error.code}: ${error.message}` : String(error);

/** One health query with the deadline; an error is recorded, not thrown. */
async function ask(what: Answer["what"], lostAt: number): Promise<Answer> {
  const sentAt = performance.now();
  const took = () => ({ atMs: sentAt - lostAt, tookMs: performance.now() - sentAt, what });
  try {
    const reply = await client.getProviderHealth(what === "p0" ? { provider_id: "p0" } : {}, {
      timeoutMs: QUERY_DEADLINE_MS,
    });
    return { ...took(), reply };
  } catch (error) {
    return { ...took(), error: errorText(error) };
  }
}

/** `list_models` with the same deadline. */
async function listModels(): Promise<ModelListAnswer> {
  const sentAt = performance.now();
  try {
    const list = await client.listModels({}, { timeoutMs: QUERY_DEADLINE_MS });
    return { tookMs: performance.now() - sentAt, models: list.data.map((model) => model.id) };
  } catch (error) {
    return { tookMs: performance.now() - sentAt, error: errorText(error) };
  }
}

const providersOf = (reply: ProviderHealth | AggregateHealth): ProviderHealth[] =>
  "providers" in reply ? reply.providers : [reply];

/** Chats on both providers, then fresh health reads: the bucket and each worker know them. */
async function recordHealthBeforeLoss(): Promise<void> {
  for (let index = 0; index < CHATS_PER_PROVIDER; index++) {
    await Promise.all(
      ["model-0", "model-1"].map((model) =>
        client.completeChat({ model, messages: [{ role: "user", content: `hi ${index}` }] }),
      ),
    );
  }
  // Both workers' windows are in the bucket, and read fresh (which each answering worker keeps).
  const before = await eventually(
    () => client.getProviderHealth({}, { timeoutMs: QUERY_DEADLINE_MS }),
    (reply) =>
      reply.stale !== true && providersOf(reply).every((p) => p.request_count === CHATS_PER_PROVIDER),
  );
  expect(providersOf(before).map((p) => [p.provider_id, p.request_count, p.stale])).toEqual([
    ["p0", CHATS_PER_PROVIDER, undefined],
    ["p1", CHATS_PER_PROVIDER, undefined],
  ]);
  // More fresh reads, so that each worker has one of its own to fall back on (not asserted: the
  // queue group picks the worker; one that has none answers with its own window, age null).
  for (let query = 0; query < 8; query++) await client.getProviderHealth({ provider_id: "p0" });
}

/** Queries until an answer was stale and a later round is all fresh again, or the outage bound. */
async function queryThroughOutage(
  lostAt: number,
): Promise<{ answers: Answer[]; modelLists: ModelListAnswer[]; freshAfterStale: boolean }> {
  const answers: Answer[] = [];
  const modelLists: ModelListAnswer[] = [];
  let freshAfterStale = false;
  while (!freshAfterStale && performance.now() - lostAt < OUTAGE_BOUND_MS) {
    // Two health queries at a time (one provider, the aggregate), so that both workers answer
    // some, and the model list (it reads no shared state).
    const [round, models] = await Promise.all([
      Promise.all((["p0", "aggregate"] as const).map((what) => ask(what, lostAt))),
      listModels(),
    ]);
    modelLists.push(models);
    answers.push(...round);
    const sawStale = answers.some((answer) => answer.reply?.stale === true);
    freshAfterStale = sawStale && round.every((answer) => answer.reply && answer.reply.stale !== true);
  }
  return { answers, modelLists, freshAfterStale };
}

/** What each query got, for a failure's message. */
function describeAnswers(answers: Answer[]): string {
  return JSON.stringify(
    answers.map((answer) => ({
      at: Math.round(answer.atMs),
      took: Math.round(answer.tookMs),
      what: answer.what,
      stale: answer.reply?.stale,
      age: answer.reply?.stale_age_ms,
      error: answer.error,
    })),
  );
}

/** Fresh or stale, every reply says what is known, and an aggregate is as stale as its stalest provider. */
function expectRepliesTellWhatIsKnown(answers: Answer[]): void {
  for (const { reply } of answers) {
    if (!reply) continue;
    for (const provider of providersOf(reply)) {
      // Fresh or stale, what is known: no errors, and at least the answering worker's own
      // requests (its window is always current).
      expect(provider).toMatchObject({ is_healthy: true, error_count: 0, rate_limit_status: "OK" });
      expect(provider.request_count).toBeGreaterThan(0);
      if (provider.stale === true) {
        // Its age: since the answering worker's last read (null: it had none).
        if (provider.stale_age_ms !== null) expect(provider.stale_age_ms).toBeGreaterThanOrEqual(0);
      } else {
        expect(provider).not.toHaveProperty("stale_age_ms");
        expect(provider.request_count).toBe(CHATS_PER_PROVIDER);
      }
    }
    // The aggregate is stale when any of its providers is, with the oldest age.
    if ("providers" in reply) {
      const staleAges = reply.providers.filter((p) => p.stale === true).map((p) => p.stale_age_ms);
      expect(reply.stale === true).toBe(staleAges.length > 0);
      if (staleAges.length > 0)
        expect(reply.stale_age_ms).toBe(
          staleAges.includes(null) ? null : Math.max(...(staleAges as number[])),
        );
    }
  }
}

describe("provider health while a node of a 3-node JetStream cluster is lost", () => {
  it("answers every query within 1 s, fresh or from the last known state marked stale", async () => {
    await recordHealthBeforeLoss();

    await cluster.kill(lost);
    const lostAt = performance.now();
    // Worker A is back through another node (so no query is sent towards the dead one).
    expect(
      await eventually(
        () => countWorkers(caller!, 300),
        (count) => count === 2,
        10_000,
      ),
    ).toBe(2);

    const { answers, modelLists, freshAfterStale } = await queryThroughOutage(lostAt);
    const seen = describeAnswers(answers);
    // Never an error (a timeout included: the client's deadline is QUERY_DEADLINE_MS).
    expect(
      answers.filter((answer) => answer.error !== undefined),
      seen,
    ).toEqual([]);
    expect(
      modelLists.filter((list) => list.error !== undefined),
      JSON.stringify(modelLists),
    ).toEqual([]);
    for (const list of modelLists) expect(list.models).toEqual(["model-0", "model-1"]);
    // The loss was seen (the bucket had no leader for a while) and is over (fresh again).
    const stale = answers.filter((answer) => answer.reply?.stale === true);
    expect(stale.length, seen).toBeGreaterThan(0);
    expect(freshAfterStale, seen).toBe(true);
    expectRepliesTellWhatIsKnown(answers);

    await cluster.restart(lost);
    await cluster.waitForHealthy(STATE_STREAMS);
  }, 90_000);
});
