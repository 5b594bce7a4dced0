// RPM limits as callers meet them: two workers, real budgets on the wall clock. A budget renews
// when the minute turns, so every test here drains until it is refused and reads the counts of the
// window that refused; exact counts on a clock the test turns itself are in kv-rate-limiter.test.ts.
import { Kvm } from "@nats-io/kv";
import { LlmProviderError } from "@llm-provider/contracts";
import type { ChatCompletion, ProviderHealth } from "@llm-provider/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toKvToken } from "../../services/llm-provider/src/infra/kv/kv-token.js";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { startTestService, testConfig } from "../support/service.js";
import type { TestService } from "../support/service.js";

let nats: NatsServerHandle;
let primary: FakeOpenAIServer;
let secondary: FakeOpenAIServer;
let workers: TestService[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  primary = await startFakeOpenAIServer();
  secondary = await startFakeOpenAIServer();
  const config = testConfig(nats.url, [primary.baseUrl, secondary.baseUrl], {
    fallback_chains: [{ id: "chain", models: ["model-0", "model-1"] }],
  });
  config.providers[0]!.config = { ...config.providers[0]!.config, rpm: 5 };
  config.providers[1]!.config = { ...config.providers[1]!.config, rpm: 3 };
  // Two workers in one queue group: the limit is the provider's, not each worker's.
  workers = [await startTestService(config), await startTestService(config)];
});

afterAll(async () => {
  for (const worker of workers) await worker.stop();
  await Promise.all([primary?.close(), secondary?.close()]);
  await nats?.stop();
});

const ask = (model: string) => ({ model, messages: [{ role: "user" as const, content: "Hello" }] });
const minute = () => Math.floor(Date.now() / 60_000);

/** Chats to `model` until `stop` holds for an outcome, at most `bound` times; the queue group picks the worker. */
async function chatUntil(
  model: string,
  bound: number,
  stop: (outcome: ChatCompletion | LlmProviderError) => boolean,
) {
  const outcomes: (ChatCompletion | LlmProviderError)[] = [];
  for (let index = 0; index < bound && !outcomes.some(stop); index++) {
    const outcome = await workers[index % 2]!.client.completeChat(ask(model)).catch((error: unknown) => {
      if (error instanceof LlmProviderError) return error;
      throw error;
    });
    outcomes.push(outcome);
  }
  return outcomes;
}

/** Each window's shared count of `budget`, oldest first. */
async function windowCounts(budget: string): Promise<{ requests: number; tokens: number }[]> {
  const kv = await new Kvm(workers[0]!.nc).open("llm_provider_rate_limits");
  const prefix = toKvToken(budget);
  const windows: number[] = [];
  for await (const key of await kv.keys(`${prefix}.*`)) windows.push(Number(key.slice(prefix.length + 1)));
  windows.sort((x, y) => x - y);
  return Promise.all(windows.map(async (window) => (await kv.get(`${prefix}.${window}`))!.json()));
}

describe("RPM limits across workers", () => {
  it("lets exactly the limit through across both workers, then falls back without calling", async () => {
    // Until the first answer from the fallback: p0's budget (5) is spent in that window.
    const outcomes = await chatUntil(
      "model-0",
      2 * 5 + 1,
      (o) => !(o instanceof LlmProviderError) && o.provider_id === "p1",
    );
    const fellBack = outcomes.at(-1) as ChatCompletion;
    expect(fellBack.provider_id).toBe("p1");
    expect(fellBack.attempts.map((a) => `${a.provider_id}:${a.outcome}:${a.error_code}`)).toEqual([
      "p0:skipped:rate_limited",
      "p1:success:undefined",
    ]);
    // Every request p0 admitted reached it once; the refused one never did.
    expect(primary.requests).toHaveLength(outcomes.length - 1);
    // The window that refused holds exactly the limit; each window's count is what p0 received.
    const counts = await windowCounts("p0");
    expect(counts.at(-1)).toEqual({ requests: 5, tokens: 0 });
    expect(counts.every((count) => count.requests <= 5)).toBe(true);
    expect(counts.reduce((sum, count) => sum + count.requests, 0)).toBe(primary.requests.length);
  });

  it("reports a spent budget as BLOCKED in get_provider_health", async () => {
    // The status is the current window's: spend it and read it within one window, again if the
    // minute turned in between (the next run cannot straddle a turn too).
    let health: ProviderHealth | undefined;
    for (let run = 0; run < 3; run++) {
      const window = minute();
      await chatUntil(
        "model-0",
        2 * 5 + 1,
        (o) => !(o instanceof LlmProviderError) && o.provider_id === "p1",
      );
      health = (await workers[1]!.client.getProviderHealth({ provider_id: "p0" })) as ProviderHealth;
      if (minute() === window) break;
    }
    expect(health!.rate_limit_status).toBe("BLOCKED"); // all of the window reserved, by either worker
  });

  it("without a fallback, a spent budget is a typed rate_limited error with a retry hint", async () => {
    // model-1's provider allows 3 per minute: within two windows' worth one is refused.
    const outcomes = await chatUntil("model-1", 2 * 3 + 1, (o) => o instanceof LlmProviderError);
    const refused = outcomes.at(-1);
    expect(refused).toBeInstanceOf(LlmProviderError);
    expect(refused).toMatchObject({ code: "rate_limited" });
    const { retryAfterMs } = refused as LlmProviderError;
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(60_000);
  });
});
