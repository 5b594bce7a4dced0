// The service's configuration for the benchmark: development (policy gateway bypassed), one
// OpenAI-wire provider pointing at the fake upstream, one model, and the production log level.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "yaml";
import type { ConfigInput } from "../../services/llm-provider/src/config/schema.js";
import { BENCH_MODEL, UPSTREAM_MODEL } from "./payloads.js";

/** The level the service runs with in production (the schema's default); it is in the report. */
export const SERVICE_LOG_LEVEL = "info";
export const BENCH_API_KEY_ENV = "BENCH_OPENAI_API_KEY";
const BENCH_API_KEY = "sk-bench-0000000000000000";

/**
 * Node flags the service runs with in production (the image's ENTRYPOINT, `npm start`; deploy
 * tests keep them equal), plus BENCH_SERVICE_NODE_FLAGS for experiments. A young generation of
 * 32 MiB semi-spaces, fixed: V8 otherwise shrinks it in a quiet spell (here: the other variant's
 * warm-up), and the load after it paid for that in scavenges (docs/operations.md, Node flags).
 */
export const PRODUCTION_NODE_FLAGS = ["--max-semi-space-size=32", "--min-semi-space-size=32"] as const;
export function serviceNodeFlags(): string[] {
  const extra = (process.env["BENCH_SERVICE_NODE_FLAGS"] ?? "").split(" ").filter(Boolean);
  return [...PRODUCTION_NODE_FLAGS, ...extra];
}

/** Variables that would override the config file; the child must run with the file alone. */
const OVERRIDING_ENV = /^(NATS_URL|LOG_LEVEL|LLM_PROVIDER_ENV|LLM_PROVIDER_CONFIG|LLM_PROVIDER__.*)$/;

export function benchServiceConfig(natsUrl: string, upstreamBaseUrl: string): ConfigInput {
  return {
    environment: "development",
    log_level: SERVICE_LOG_LEVEL,
    nats: { servers: natsUrl, name: "llm-provider-bench" },
    policy_gateway: { bypass: true },
    providers: [
      {
        id: "bench-upstream",
        name: "Bench fake OpenAI upstream",
        provider_type: "openai",
        endpoint: upstreamBaseUrl,
        api_key_ref: `env:${BENCH_API_KEY_ENV}`,
        config: { timeout_ms: 10_000, max_retries: 2 },
      },
    ],
    models: [
      {
        model_name: BENCH_MODEL,
        provider_id: "bench-upstream",
        upstream_model: UPSTREAM_MODEL,
        context_window: 128_000,
        max_tokens: 4_096,
        cost: { input_per_million: 0.15, output_per_million: 0.6 },
        features: { chat: true, embedding: false, function_calling: true, streaming: true },
      },
    ],
  };
}

/** Writes the config as YAML into `dir`; returns its path. */
export async function writeServiceConfig(dir: string, config: ConfigInput): Promise<string> {
  const path = join(dir, "llm-provider.bench.yaml");
  await writeFile(path, stringify(config));
  return path;
}

/** The bench's environment without config overrides, plus the provider's (fake) API key. */
export function serviceEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!OVERRIDING_ENV.test(name)) env[name] = value;
  env[BENCH_API_KEY_ENV] = BENCH_API_KEY;
  return env;
}
