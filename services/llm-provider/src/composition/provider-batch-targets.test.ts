import { LlmProviderError } from "@llm-provider/contracts";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../config/load-config.js";
import { buildCatalog } from "../domain/catalog.js";
import { newJobRecord } from "../domain/jobs.js";
import type { ProviderBatchClient } from "../ports/provider-batch-client.js";
import { batchTargetOf } from "./provider-batch-targets.js";

const catalogWith = (isAvailable: boolean) =>
  buildCatalog(
    parseConfig(
      {
        environment: "development",
        policy_gateway: { bypass: true },
        providers: [
          { id: "openai", name: "OpenAI", provider_type: "openai", endpoint: "http://127.0.0.1:1/v1" },
        ],
        models: [
          {
            model_name: "embedder",
            provider_id: "openai",
            is_available: isAvailable,
            context_window: 8_191,
            max_tokens: 8_191,
            dimensions: 8,
            cost: { input_per_million: 0.02 },
            features: { chat: false, embedding: true },
          },
        ],
      },
      "test",
    ),
    0,
  );
const clients = new Map([["openai", {} as ProviderBatchClient]]);
const job = newJobRecord(
  { job_id: "j1", kind: "embedding", model: "embedder", mode: "provider_batch" } as Parameters<
    typeof newJobRecord
  >[0],
  "query",
  new Date(0),
  "prefix",
);

describe("batchTargetOf", () => {
  it("sends a provider_batch job to its model's provider while the model is in service", () => {
    const target = batchTargetOf(catalogWith(true), clients, job);
    expect(target).not.toBeInstanceOf(LlmProviderError);
    expect(target).toMatchObject({ providerId: "openai", upstreamModel: "embedder" });
  });

  it("refuses a new batch, typed, once the live configuration takes the model out of service", () => {
    const target = batchTargetOf(catalogWith(false), clients, job, true);
    expect(target).toBeInstanceOf(LlmProviderError);
    expect(target).toMatchObject({ code: "upstream_unavailable", field: "model" });
  });

  it("lets a batch already at the provider finish (its results are read and priced)", () => {
    const target = batchTargetOf(catalogWith(false), clients, job, false);
    expect(target).toMatchObject({ providerId: "openai", upstreamModel: "embedder" });
  });
});
