import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { applyEnvOverrides, ConfigError, loadConfig, parseConfig } from "./load-config.js";
import { callerIdentityOf, workerCreatesStateOf } from "./schema.js";
import type { ConfigInput } from "./schema.js";

function baseConfig(): ConfigInput & Record<string, unknown> {
  return {
    environment: "development",
    policy_gateway: { bypass: true },
    providers: [
      {
        id: "openai",
        name: "OpenAI",
        provider_type: "openai",
        endpoint: "https://api.openai.com/v1",
        api_key_ref: "env:OPENAI_API_KEY",
      },
    ],
    models: [
      { model_name: "gpt-4o-mini", provider_id: "openai", context_window: 128_000, max_tokens: 16_384 },
    ],
  };
}

function problemsOf(raw: unknown): ConfigError["problems"] {
  try {
    parseConfig(raw, "test.yaml");
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected the configuration to be refused");
}

describe("parseConfig", () => {
  it("fills defaults and turns secret references into objects", () => {
    const config = parseConfig(baseConfig(), "test.yaml");
    expect(config.providers[0]!.api_key_ref).toEqual({ env: "OPENAI_API_KEY" });
    expect(config.providers[0]!.config).toMatchObject({
      timeout_ms: 60_000,
      first_byte_timeout_ms: 8_000,
      idle_timeout_ms: 15_000,
      max_retries: 2,
      retries: {
        connection: 2,
        server_error: 1,
        overloaded: 1,
        rate_limited: 1,
        malformed_response: 1,
        timeout: 0,
      },
      max_retry_after_ms: 2_000,
      slow_failure_ms: 3_000,
      stream_upstream: false,
    });
    expect(config.service.max_in_flight).toBe(256);
    expect(config.models[0]!.features).toEqual({
      chat: true,
      embedding: false,
      function_calling: false,
      streaming: false,
      assistant_prefill: false,
      vision: false,
      files: false,
      reasoning: false,
      prompt_caching: false,
      structured_output: true,
    });
  });

  it("takes Ollama's keep_alive as a duration with a unit or as seconds, not a unitless string", () => {
    const withKeepAlive = (keep_alive: string | number) => {
      const config = baseConfig();
      config.models = [{ ...config.models[0]!, ollama: { keep_alive } }];
      try {
        parseConfig(config, "test.yaml");
        return true;
      } catch (error) {
        if (error instanceof ConfigError) return false;
        throw error;
      }
    };
    expect(withKeepAlive("-1")).toBe(false);
  });

  it("takes the former names of the first-byte and idle limits", () => {
    const raw = baseConfig();
    raw.providers[0]!.config = { stream_first_chunk_timeout_ms: 4_000, stream_idle_timeout_ms: 9_000 };
    const { config } = parseConfig(raw, "test.yaml").providers[0]!;
    expect([config.first_byte_timeout_ms, config.idle_timeout_ms]).toEqual([4_000, 9_000]);
    expect(config).not.toHaveProperty("stream_first_chunk_timeout_ms");
  });

  it("refuses a provider without a name (POL-LLM-001), naming the entry", () => {
    const raw = baseConfig();
    delete raw.providers[0]!.name;
    expect(problemsOf(raw)).toEqual([
      { policy: "POL-LLM-001", field: "providers[0].name", message: "provider 'openai' must have a name" },
    ]);
  });

  it("refuses a non-positive max_tokens (POL-LLM-002)", () => {
    const raw = baseConfig();
    raw.models[0]!.max_tokens = 0;
    expect(problemsOf(raw)).toEqual([
      {
        policy: "POL-LLM-002",
        field: "models[0].max_tokens",
        message: "model 'gpt-4o-mini' must define a positive max_tokens (got 0)",
      },
    ]);
  });

  it("refuses gateway bypass outside development (POL-LLM-005)", () => {
    const raw = { ...baseConfig(), environment: "production" };
    expect(problemsOf(raw)).toEqual([
      expect.objectContaining({ policy: "POL-LLM-005", field: "policy_gateway.bypass" }),
    ]);
  });

  it("reports broken cross-references, all at once", () => {
    const raw = baseConfig();
    raw.models.push({ model_name: "gpt-4o", provider_id: "nobody", context_window: 1, max_tokens: 1 });
    raw.fallback_chains = [{ id: "c", models: ["gpt-4o-mini", "missing"] }];
    expect(problemsOf(raw).map((p) => p.field)).toEqual([
      "models[1].provider_id",
      "fallback_chains[0].models[1]",
    ]);
  });

  it("takes entries that repeat a model name on other providers as its deployments", () => {
    const raw = baseConfig();
    raw.providers.push({
      id: "openrouter",
      name: "OpenRouter",
      provider_type: "openrouter",
      endpoint: "https://openrouter.ai/api/v1",
    });
    raw.models.push({
      model_name: "gpt-4o-mini",
      provider_id: "openrouter",
      upstream_model: "openai/gpt-4o-mini",
      weight: 3,
      context_window: 128_000,
      max_tokens: 16_384,
    });
    const config = parseConfig(raw, "test.yaml");
    expect(config.models.map((m) => [m.provider_id, m.weight])).toEqual([
      ["openai", 1],
      ["openrouter", 3],
    ]);
    expect(config.load_balancing).toEqual({
      strategy: "weighted",
      latency_tolerance: 0.2,
      affinity_prefix_chars: 4_096,
    });
  });

  it("refuses a second deployment on the same provider, or one that answers differently", () => {
    const raw = baseConfig();
    raw.providers.push({ id: "o2", name: "O2", provider_type: "openai", endpoint: "https://o2.example/v1" });
    const model = raw.models[0]!;
    raw.models.push(
      { ...model },
      { ...model, provider_id: "o2", features: { embedding: true }, dimensions: 8, balancing: "least_busy" },
    );
    expect(problemsOf(raw)).toEqual([
      {
        field: "models[1].provider_id",
        message: "model 'gpt-4o-mini' is already deployed on provider 'openai'",
      },
      {
        field: "models[2].features.embedding",
        message: "deployment of 'gpt-4o-mini' on 'o2' has another embedding feature than its first entry",
      },
      {
        field: "models[2].dimensions",
        message: "deployment of 'gpt-4o-mini' on 'o2' has another vector length than its first entry",
      },
      {
        field: "models[2].balancing",
        message:
          "deployment of 'gpt-4o-mini' on 'o2' sets a balancing strategy: a model has one, set on its first entry",
      },
    ]);
  });

  it("refuses a budget without a limit, or naming a model that is not configured", () => {
    const raw = baseConfig();
    raw.callers = { contexts: { query: { budgets: [{ period: "day" }] } } };
    expect(problemsOf(raw)).toEqual([
      expect.objectContaining({
        field: "callers.contexts.query.budgets[0].usd",
        message: expect.stringContaining("a budget needs usd, tokens or both"),
      }),
    ]);
    raw.callers = { contexts: { query: { budgets: [{ period: "week" as "day", usd: 1 }] } } };
    expect(problemsOf(raw).map((p) => p.field)).toEqual(["callers.contexts.query.budgets[0].period"]);
    raw.callers = { contexts: { query: { budgets: [{ period: "month", tokens: 10, model: "gpt-5" }] } } };
    expect(problemsOf(raw)).toEqual([
      { field: "callers.contexts.query.budgets[0].model", message: "budget names unknown model 'gpt-5'" },
    ]);
  });

  it("names the rule a schema refusal broke and what was given", () => {
    const raw = baseConfig() as Record<string, unknown>;
    raw["log_level"] = "loud";
    (raw["models"] as Record<string, unknown>[])[0]!["context_window"] = "big";
    expect(problemsOf(raw)).toEqual([
      {
        field: "log_level",
        message: 'must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent", got \'loud\'',
      },
      { field: "models[0].context_window", message: "must be a number, got a string" },
    ]);
  });

  it("refuses an initial backoff above the maximum", () => {
    const raw = baseConfig();
    raw.providers[0]!.config = { retry_initial_backoff_ms: 10_000, retry_max_backoff_ms: 1_000 };
    expect(problemsOf(raw).map((p) => p.field)).toEqual(["providers[0].config.retry_initial_backoff_ms"]);
  });

  it("refuses a job de-duplication window that a redelivered item could outlast, or the streams do not keep", () => {
    const short = { ...baseConfig(), jobs: { ack_wait_ms: 60_000, duplicate_window_ms: 300_000 } };
    expect(problemsOf(short)).toEqual([
      {
        field: "jobs.duplicate_window_ms",
        message: expect.stringContaining(
          "max_deliveries × (ack_wait_ms + batch_timeout_ms + 60 s)",
        ) as string,
      },
    ]);
    const long = { ...baseConfig(), jobs: { retention_ms: 1_800_000 } };
    expect(problemsOf(long).map((p) => [p.field, p.message])).toEqual([
      ["jobs.duplicate_window_ms", "must not exceed retention_ms"],
    ]);
  });

  it("refuses unknown fields and malformed secret references with their path", () => {
    const raw = baseConfig();
    (raw.providers[0] as Record<string, unknown>).api_key = "sk-should-never-be-here";
    const problems = problemsOf(raw);
    expect(problems[0]!.field).toBe("providers[0]");
    expect(problems[0]!.message).toContain("api_key");
    expect(JSON.stringify(problems)).not.toContain("sk-should-never-be-here");

    const badRef = baseConfig();
    badRef.providers[0]!.api_key_ref = "OPENAI_API_KEY";
    expect(problemsOf(badRef)[0]!.field).toBe("providers[0].api_key_ref");
  });
});

describe("applyEnvOverrides", () => {
  it("applies NATS_URL, LLM_PROVIDER_ENV and path overrides with JSON values", () => {
    const raw = applyEnvOverrides(baseConfig(), {
      NATS_URL: "nats://a:4222, nats://b:4222",
      LLM_PROVIDER_ENV: "development",
      LLM_PROVIDER__SERVICE__MAX_IN_FLIGHT: "512",
      LLM_PROVIDER__PROVIDERS__0__ENDPOINT: "http://127.0.0.1:9999/v1",
      LLM_PROVIDER__PROVIDERS__0__CONFIG__MAX_RETRIES: "0",
    });
    const config = parseConfig(raw, "env");
    expect(config.nats.servers).toEqual(["nats://a:4222", "nats://b:4222"]);
    expect(config.service.max_in_flight).toBe(512);
    expect(config.providers[0]!.endpoint).toBe("http://127.0.0.1:9999/v1");
    expect(config.providers[0]!.config.max_retries).toBe(0);
  });

  it("refuses a list indexed by a name instead of silently ignoring it", () => {
    expect(() =>
      applyEnvOverrides(baseConfig(), { LLM_PROVIDER__PROVIDERS__OPENAI__ENDPOINT: "http://x" }),
    ).toThrow(/LLM_PROVIDER__PROVIDERS__OPENAI__ENDPOINT: indexes a list with a name/);
  });

  it("does not modify the file's object", () => {
    const raw = baseConfig();
    applyEnvOverrides(raw, { LLM_PROVIDER__LOG_LEVEL: "debug" });
    expect(raw).not.toHaveProperty("log_level");
  });
});

describe("parseConfig: settings of one provider type", () => {
  it("needs api_version and a key for azure_openai, and refuses type settings on other types", () => {
    const raw = baseConfig();
    raw.providers.push(
      { id: "azure", name: "Azure", provider_type: "azure_openai", endpoint: "https://res.openai.azure.com" },
      {
        id: "local",
        name: "Local",
        provider_type: "ollama",
        endpoint: "http://127.0.0.1:11434",
        api_version: "2024-10-21",
        openrouter: { provider: { order: ["x"] } },
      },
    );
    expect(problemsOf(raw).map((problem) => problem.field)).toEqual([
      "providers[1].api_version",
      "providers[1].api_key_ref",
      "providers[2].api_version",
      "providers[2].openrouter",
    ]);
  });

  it("passes OpenRouter preferences through, type-checking the keys it knows", () => {
    const raw = baseConfig();
    const openrouter = {
      provider: { order: ["anthropic"], sort: "price" as const, preferred_max_latency: 2 },
    };
    raw.providers.push({
      id: "or",
      name: "OpenRouter",
      provider_type: "openrouter",
      endpoint: "https://openrouter.ai/api/v1",
      openrouter,
    });
    expect(parseConfig(raw, "test.yaml").providers[1]!.openrouter).toEqual(openrouter);
    raw.providers[1]!.openrouter = { provider: { order: "anthropic" } } as never;
    expect(problemsOf(raw).map((problem) => problem.field)).toEqual([
      "providers[1].openrouter.provider.order",
    ]);
  });
});

describe("callers and JetStream state", () => {
  it("tell callers apart by account and leave the state to the bootstrap, unless in development", () => {
    const development = parseConfig(baseConfig(), "test.yaml");
    expect(callerIdentityOf(development)).toBe("none");
    expect(workerCreatesStateOf(development)).toBe(true);
    const production = parseConfig({ ...baseConfig(), environment: "production", policy_gateway: {} }, "t");
    expect(callerIdentityOf(production)).toBe("account");
    expect(workerCreatesStateOf(production)).toBe(false);
    const explicit = parseConfig(
      { ...baseConfig(), callers: { identity: "account" }, service: { create_state: false } },
      "t",
    );
    expect([callerIdentityOf(explicit), workerCreatesStateOf(explicit)]).toEqual(["account", false]);
  });

  it("refuses a context that is not one subject token, and a reply prefix outside the inboxes", () => {
    const problems = problemsOf({
      ...baseConfig(),
      callers: { contexts: { "mem.ory": {}, Memory: {} }, reply_prefixes: ["$JS.API.", "_INBOX_x"] },
    });
    expect(problems.map((problem) => problem.field).sort()).toEqual([
      "callers.contexts.Memory",
      "callers.contexts.mem.ory",
      "callers.reply_prefixes[0]",
      "callers.reply_prefixes[1]",
    ]);
  });
});

describe("the shipped configurations", () => {
  const root = new URL("../../../../", import.meta.url);
  const accounts = readFileSync(new URL("deploy/nats/accounts.conf", root), "utf8");
  /** The contexts the NATS layout exports the service to (`llm-provider.ctx.<context>.>`). */
  const exported = [...accounts.matchAll(/service: "llm-provider\.ctx\.([a-z0-9_-]+)\.>"/g)].map((m) => m[1]);

  it("parse, and serve exactly the contexts the shipped NATS accounts export to", () => {
    expect(exported.sort()).toEqual(["ingest", "memory", "query"]);
    for (const file of ["config/production.example.yaml", "deploy/compose-config.yaml"]) {
      const config = loadConfig(fileURLToPath(new URL(file, root)), {});
      expect(callerIdentityOf(config), file).toBe("account");
      expect(Object.keys(config.callers.contexts).sort(), file).toEqual(exported);
      expect(
        config.events.consumers.map((consumer) => consumer.name),
        file,
      ).toEqual(["analytics"]);
    }
    const development = loadConfig(fileURLToPath(new URL("config/development.yaml", root)), {});
    expect(callerIdentityOf(development)).toBe("none");
  });
});
