// Token budgets settled with the provider's count, end to end: two workers, requests estimated at
// their max_tokens, answers of a few tokens. Unsettled, the budgets below let a handful through;
// settled, every request here fits. A minute turning mid-test only renews the budgets, so each
// assertion holds in any window.
import { Kvm } from "@nats-io/kv";
import type { CompleteChatInput } from "@llm-provider/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEmbeddingKeyDeriver } from "../../services/llm-provider/src/domain/embedding-key.js";
import { toKvToken } from "../../services/llm-provider/src/infra/kv/kv-token.js";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { waitForCachedVector } from "../support/embeddings.js";
import { embedderModel, startTestService, testConfig } from "../support/service.js";
import type { TestService } from "../support/service.js";

/** p0's budget: five of the estimates below. */
const PROVIDER_TPM = 5_000;
/** The (anonymous) caller's budget: ten of the estimates below. */
const CALLER_TPM = 100_000;

let nats: NatsServerHandle;
let metered: FakeOpenAIServer;
let open: FakeOpenAIServer;
let workers: TestService[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  metered = await startFakeOpenAIServer();
  open = await startFakeOpenAIServer();
  const config = testConfig(nats.url, [metered.baseUrl, open.baseUrl], {
    callers: { contexts: { anonymous: { tpm: CALLER_TPM } } },
  });
  config.providers[0]!.config = { ...config.providers[0]!.config, tpm: PROVIDER_TPM };
  config.models[1] = { ...config.models[1]!, max_tokens: 10_000 };
  config.models.push(embedderModel({ provider_id: "p1" }));
  workers = [await startTestService(config), await startTestService(config)];
});

afterAll(async () => {
  for (const worker of workers) await worker.stop();
  await Promise.all([metered?.close(), open?.close()]);
  await nats?.stop();
});

/** "Hello" is estimated at 6 prompt tokens: with `max_tokens`, the request's estimate is `total`. */
const chatEstimatedAt = (model: string, total: number): CompleteChatInput => ({
  model,
  max_tokens: total - 6,
  messages: [{ role: "user", content: "Hello" }],
});

async function streamed(worker: TestService, request: CompleteChatInput) {
  const stream = worker.client.streamChat(request);
  for await (const _chunk of stream);
  return stream.done;
}

/** The tokens of `budget` in every window's shared count. */
async function reservedTokens(budget: string): Promise<number> {
  const kv = await new Kvm(workers[0]!.nc).open("llm_provider_rate_limits");
  const prefix = toKvToken(budget);
  let tokens = 0;
  for await (const key of await kv.keys(`${prefix}.*`)) {
    tokens += (await kv.get(key))!.json<{ tokens: number }>().tokens;
  }
  return tokens;
}

describe("a provider's TPM, settled with its count", () => {
  // Ten requests estimated at 1 000 each: twice what the estimates alone would let through.
  const request = chatEstimatedAt("model-0", 1_000);

  it("lets more chats through when answers use fewer tokens than estimated", async () => {
    const answers = [];
    for (let index = 0; index < 10; index++) {
      answers.push(await workers[index % 2]!.client.completeChat(request));
    }
    for (const answer of answers) {
      expect(answer.provider_id).toBe("p0");
      expect(answer.attempts.map((attempt) => attempt.outcome)).toEqual(["success"]);
    }
    // The shared count holds what was used and the workers' unspent leases, not 10 estimates.
    const used = answers.reduce((sum, answer) => sum + answer.usage.total_tokens, 0);
    const reserved = await reservedTokens("p0");
    expect(reserved).toBeGreaterThanOrEqual(used);
    expect(reserved).toBeLessThan(10 * 1_000);
  });

  it("lets more streams through, settled by the usage their end reports", async () => {
    for (let index = 0; index < 10; index++) {
      const done = await streamed(workers[index % 2]!, request);
      expect(done.provider_id).toBe("p0");
      expect(done.attempts.map((attempt) => attempt.outcome)).toEqual(["success"]);
    }
    expect(metered.requests).toHaveLength(20);
  });
});

describe("a caller's TPM, settled with what its requests used", () => {
  // Twelve requests of each kind estimated at 10 000: more than the caller's whole budget.
  const request = chatEstimatedAt("model-1", 10_000);

  it("complete_chat gives back what the answer did not use", async () => {
    for (let index = 0; index < 12; index++) {
      expect((await workers[index % 2]!.client.completeChat(request)).provider_id).toBe("p1");
    }
  });

  it("stream_chat gives back what the answer did not use", async () => {
    for (let index = 0; index < 12; index++) {
      expect((await streamed(workers[index % 2]!, request)).provider_id).toBe("p1");
    }
  });

  it("generate_embedding counts only what went upstream: cache hits are free", async () => {
    // Five texts of 8 000 characters: estimated at 10 000 tokens, all used the first time only.
    const input = Array.from({ length: 5 }, (_, index) => `${index} `.padEnd(8_000, "x"));
    const first = await workers[0]!.client.generateEmbedding({ model: "embedder", input });
    expect(first.usage.prompt_tokens).toBe(10_000);
    // The reply may leave before its vectors are stored: the hits below must find them.
    const keyOf = createEmbeddingKeyDeriver({ model: "embedder", upstreamModel: "embedder", dimensions: 8 });
    for (const text of input) {
      const stored = await waitForCachedVector(workers[0]!.nc, keyOf(text), "llm_provider_embeddings");
      expect(stored).toMatchObject({ kind: "vector" });
    }
    for (let index = 1; index < 12; index++) {
      const hits = await workers[index % 2]!.client.generateEmbedding({ model: "embedder", input });
      expect(hits.data.every((item) => item.cached)).toBe(true);
    }
  });
});
