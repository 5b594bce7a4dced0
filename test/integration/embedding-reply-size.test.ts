// Replies larger than the server's max_payload are never sent, so they are refused with a typed
// error that says how to split the batch — before any provider call when the size is certain.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { embeddingConfig, purgeCache } from "../support/embeddings.js";
import { startTestService, TEST_API_KEY } from "../support/service.js";
import type { TestService } from "../support/service.js";
import { refusalOf } from "../support/refusal.js";

const MAX_PAYLOAD = 64 * 1024;

let nats: NatsServerHandle;
let upstream: FakeOpenAIServer;
let service: TestService;

beforeAll(async () => {
  nats = await startNatsServer({ maxPayload: MAX_PAYLOAD });
  upstream = await startFakeOpenAIServer({ apiKey: TEST_API_KEY });
  const config = embeddingConfig(nats.url, upstream.baseUrl);
  // Enough models that the model list alone is larger than one message may be.
  for (let index = 0; index < 200; index++) {
    config.models.push({ ...config.models[0]!, model_name: `chat-model-with-a-long-name-${index}` });
  }
  service = await startTestService(config);
});

afterAll(async () => {
  await service?.stop();
  await upstream?.close();
  await nats?.stop();
});

beforeEach(async () => {
  upstream.reset();
  await purgeCache(service.nc);
});

const texts = (count: number, prefix: string) =>
  Array.from({ length: count }, (_, index) => `${prefix} ${index}`);

describe("replies over the NATS max_payload", () => {
  it("a batch whose reply certainly cannot fit is refused before any provider call", async () => {
    const error = await refusalOf(
      service.client.generateEmbedding({
        model: "embed",
        input: texts(1_000, "item"),
        encoding_format: "base64",
      }),
    );
    expect(error.code).toBe("payload_too_large");
    expect(error.message).toMatch(/split the batch into requests of at most \d+ items/);
    const fitting = error.details?.max_items_per_request as number;
    expect(fitting).toBeGreaterThan(100);
    expect(fitting).toBeLessThan(1_000);
    expect(upstream.requests).toHaveLength(0);

    const split = await service.client.generateEmbedding({
      model: "embed",
      input: texts(fitting, "item"),
      encoding_format: "base64",
    });
    expect(split.data).toHaveLength(fitting);
  });

  it("a reply found too large once built is refused with a split that fits, and the split is all cache hits", async () => {
    const input = texts(300, "float item");
    const error = await refusalOf(service.client.generateEmbedding({ model: "embed", input }));
    expect(error.code).toBe("payload_too_large");
    expect(error.details).toMatchObject({ items: 300, encoding_format: "float" });
    expect(error.message).toContain('encoding_format "base64"');
    expect(upstream.requests).toHaveLength(1);

    const fitting = error.details?.max_items_per_request as number;
    expect(fitting).toBeGreaterThan(0);
    for (let start = 0; start < input.length; start += fitting) {
      const part = await service.client.generateEmbedding({
        model: "embed",
        input: input.slice(start, start + fitting),
      });
      expect(part.data.every((item) => item.cached)).toBe(true);
    }
    expect(upstream.requests).toHaveLength(1);
  });

  it("any other reply over the limit becomes a typed error, never a dropped reply", async () => {
    const error = await refusalOf(service.client.listModels());
    expect(error.code).toBe("payload_too_large");
    expect(error.details).toMatchObject({ max_payload: MAX_PAYLOAD });
  });
});
