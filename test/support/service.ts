// Starts the real service in-process against a test nats-server and fake upstreams, and gives the
// test a client connection, the typed client and the captured log lines.
import { Writable } from "node:stream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { createLlmProviderClient } from "@llm-provider/contracts";
import type { LlmProviderClient } from "@llm-provider/contracts";
import { startApp } from "../../services/llm-provider/src/app.js";
import type { App } from "../../services/llm-provider/src/app.js";
import { parseConfig } from "../../services/llm-provider/src/config/load-config.js";
import type { ConfigInput } from "../../services/llm-provider/src/config/schema.js";
import { createLogger } from "../../services/llm-provider/src/infra/logging/logger.js";

export const TEST_API_KEY = "sk-test-0123456789abcdefSECRET";

export interface TestService {
  app: App;
  /** A separate connection, as a caller would have. */
  nc: NatsConnection;
  client: LlmProviderClient;
  /** Every log line the service wrote, as text. */
  logs: string[];
  stop(): Promise<void>;
}

/**
 * Production settings on the test's single-account server: callers are not told apart (test/security
 * runs the account layout) and the worker creates its own JetStream state (no bootstrap step).
 */
export const SINGLE_ACCOUNT_PRODUCTION = {
  environment: "production",
  callers: { identity: "none" },
  service: { create_state: true },
} as const satisfies Partial<ConfigInput>;

/** A development config with one OpenAI-wire provider per given endpoint (`p0`, `p1`, …). */
export function testConfig(
  natsUrl: string,
  endpoints: string[],
  overrides: Partial<ConfigInput> = {},
): ConfigInput {
  return {
    environment: "development",
    log_level: "info",
    nats: { servers: natsUrl },
    policy_gateway: { bypass: true },
    // Tests about single requests fail providers on purpose; a breaker opening between them would
    // change what later tests see. The breaker tests set their own threshold.
    circuit_breaker: { failure_threshold: 1_000 },
    providers: endpoints.map((endpoint, index) => ({
      id: `p${index}`,
      name: `Provider ${index}`,
      provider_type: "openai",
      endpoint,
      api_key_ref: "env:TEST_OPENAI_KEY",
      config: { timeout_ms: 5_000, max_retries: 2, retry_initial_backoff_ms: 10, retry_max_backoff_ms: 50 },
    })),
    models: endpoints.map((_endpoint, index) => ({
      model_name: `model-${index}`,
      provider_id: `p${index}`,
      upstream_model: `upstream-model-${index}`,
      context_window: 8_192,
      max_tokens: 1_024,
      cost: { input_per_million: 2, output_per_million: 10 },
      features: { chat: true, embedding: false, function_calling: true, streaming: true },
    })),
    ...overrides,
  };
}

/** An embedding model `embedder` of 8 dimensions on provider `p0` (the echo upstream embeds any length). */
export function embedderModel(
  overrides: Partial<ConfigInput["models"][number]> = {},
): ConfigInput["models"][number] {
  return {
    model_name: "embedder",
    provider_id: "p0",
    context_window: 8_191,
    max_tokens: 8_191,
    dimensions: 8,
    features: { chat: false, embedding: true, function_calling: false, streaming: false },
    ...overrides,
  };
}

type ProviderInput = ConfigInput["providers"][number];
type ModelInput = ConfigInput["models"][number];

/** One provider of a multi-wire test config, with the one model it serves. */
export interface WireTestProvider {
  provider: Pick<ProviderInput, "id" | "provider_type" | "endpoint"> & Partial<ProviderInput>;
  model: Pick<ModelInput, "model_name" | "upstream_model"> & Partial<ModelInput>;
}

/**
 * A development config with providers of any wire (`anthropic`, `ollama`, `azure_openai`, …),
 * each serving one model. Retries are fast and few; keys come from `api_key_ref` as given.
 */
export function multiWireConfig(
  natsUrl: string,
  wires: WireTestProvider[],
  overrides: Partial<ConfigInput> = {},
): ConfigInput {
  return {
    environment: "development",
    log_level: "info",
    nats: { servers: natsUrl },
    policy_gateway: { bypass: true },
    providers: wires.map(({ provider }) => ({
      name: provider.id,
      config: { timeout_ms: 5_000, max_retries: 1, retry_initial_backoff_ms: 10, retry_max_backoff_ms: 50 },
      ...provider,
    })),
    models: wires.map(({ provider, model }) => ({
      provider_id: provider.id,
      context_window: 8_192,
      max_tokens: 1_024,
      features: { chat: true, embedding: false, function_calling: true, streaming: false },
      ...model,
    })),
    ...overrides,
  };
}

export async function startTestService(
  configInput: ConfigInput,
  env: NodeJS.ProcessEnv = { TEST_OPENAI_KEY: TEST_API_KEY },
): Promise<TestService> {
  const config = parseConfig(configInput, "test");
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(chunk.toString());
      callback();
    },
  });
  const app = await startApp({ config, env, logger: createLogger(config.log_level, sink) });
  const servers = config.nats.servers;
  const nc = await connect({ servers });
  const client = createLlmProviderClient(nc, { timeouts: { chat: 10_000, query: 5_000 } });
  return {
    app,
    nc,
    client,
    logs,
    async stop() {
      await nc.close();
      await app.stop(1_000);
    },
  };
}
