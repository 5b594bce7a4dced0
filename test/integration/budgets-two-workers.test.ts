// A caller's budget held by two worker processes at once (decision 0014): requests admitted on
// both before their cost is counted may pass the limit, but never by more than the requests the
// two can hold in flight.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { createLlmProviderClient, LlmProviderError, SERVICE_NAME } from "@llm-provider/contracts";
import type { ChatCompletion } from "@llm-provider/contracts";
import { afterAll, beforeAll, expect, it } from "vitest";
import { stringify as toYaml } from "yaml";
import { periodStartOf } from "../../services/llm-provider/src/domain/budgets.js";
import { spendKeyOf } from "../../services/llm-provider/src/infra/kv/kv-spend-ledger.js";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { runMain, waitUntilServing } from "../support/main-process.js";
import { TEST_API_KEY, testConfig } from "../support/service.js";
import { eventually } from "../support/until.js";

const WORKERS = 2;
const MAX_IN_FLIGHT = 3;
/** About ten answers' worth at model-0's prices. */
const DAILY_USD = 0.0005;

let nats: NatsServerHandle;
let upstream: FakeOpenAIServer;
let workDir: string;
let nc: NatsConnection;
const workers: ReturnType<typeof runMain>[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  // Slow answers keep every admitted request in flight while the others are admitted.
  upstream = await startFakeOpenAIServer({ apiKey: TEST_API_KEY, defaultDelayMs: 300 });
  workDir = await mkdtemp(join(tmpdir(), "llm-provider-budgets-"));
  const config = testConfig(nats.url, [upstream.baseUrl], {
    service: { max_in_flight: MAX_IN_FLIGHT },
    callers: { contexts: { anonymous: { budgets: [{ period: "day", usd: DAILY_USD }] } } },
  });
  const configPath = join(workDir, "config.yaml");
  await writeFile(configPath, toYaml(config));
  nc = await connect({ servers: nats.url });
  for (let index = 0; index < WORKERS; index++) {
    const worker = runMain(configPath, { TEST_OPENAI_KEY: TEST_API_KEY });
    workers.push(worker);
    await waitUntilServing(nc, worker);
  }
  expect(await eventually(pongs, (count) => count === WORKERS)).toBe(WORKERS);
});

afterAll(async () => {
  for (const worker of workers) {
    worker.child.kill("SIGTERM");
    await worker.exited;
  }
  await nc?.close();
  await upstream?.close();
  await nats?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

async function pongs(): Promise<number> {
  let count = 0;
  for await (const _pong of await nc.requestMany(`$SRV.PING.${SERVICE_NAME}`, "", { maxWait: 500 })) count++;
  return count;
}

it("lets two workers overshoot a budget by no more than what they hold in flight", async () => {
  const client = createLlmProviderClient(nc);
  const ask = { model: "model-0", messages: [{ role: "user" as const, content: "Hello" }] };
  const answers: ChatCompletion[] = [];
  let refusals = 0;
  // Waves as large as both workers can hold, until a whole wave is refused for the budget.
  for (let wave = 0; wave < 40 && refusals < WORKERS * MAX_IN_FLIGHT; wave++) {
    refusals = 0;
    const outcomes = await Promise.all(
      Array.from({ length: WORKERS * MAX_IN_FLIGHT }, () =>
        client.completeChat(ask, { timeoutMs: 10_000 }).catch((error: unknown) => error),
      ),
    );
    for (const outcome of outcomes) {
      if (outcome instanceof LlmProviderError) {
        if (outcome.code === "budget_exceeded") refusals++;
        else expect(outcome.code).toBe("busy"); // a wave may put more on one worker than it holds
      } else answers.push(outcome as ChatCompletion);
    }
  }
  expect(refusals).toBe(WORKERS * MAX_IN_FLIGHT);

  const costs = answers.map((answer) => answer.usage.cost.total);
  const spent = costs.reduce((sum, cost) => sum + cost, 0);
  const largest = Math.max(...costs);
  expect(spent).toBeGreaterThanOrEqual(DAILY_USD);
  // The bound of decision 0014: limit + N × max_in_flight × the largest request's cost.
  expect(spent).toBeLessThan(DAILY_USD + WORKERS * MAX_IN_FLIGHT * largest);

  // The shared counter holds exactly what the answers cost, whichever worker answered them.
  const kv = await new Kvm(nc).open("llm_provider_spend");
  const counted = (
    await kv.get(
      spendKeyOf({ caller: "anonymous", period: "day", periodStart: periodStartOf("day", Date.now()) }),
    )
  )?.json<{ usd: number; requests: number }>();
  expect(counted!.requests).toBe(answers.length);
  expect(counted!.usd).toBeCloseTo(spent, 12);

  // Both workers served some of them.
  const stats: { endpoints: { name: string; num_requests: number }[] }[] = [];
  for await (const reply of await nc.requestMany(`$SRV.STATS.${SERVICE_NAME}`, "", { maxWait: 500 })) {
    stats.push(reply.json());
  }
  expect(stats).toHaveLength(WORKERS);
  for (const worker of stats) {
    expect(
      worker.endpoints.find((endpoint) => endpoint.name === "complete_chat")!.num_requests,
    ).toBeGreaterThan(0);
  }
});
