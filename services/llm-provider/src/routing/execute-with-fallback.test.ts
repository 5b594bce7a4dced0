import { LlmProviderError } from "@llm-provider/contracts";
import { describe, expect, it } from "vitest";
import type { FallbackChain, Target } from "../domain/catalog.js";
import { UpstreamError } from "../domain/failure.js";
import type { FailureClass } from "../domain/failure.js";
import { ProviderConfigSchema } from "../config/schema.js";
import { executeWithFallback } from "./execute-with-fallback.js";
import type { ExecutionEnvironment } from "./execute-with-fallback.js";
import { DEFAULT_MODEL_FEATURES } from "../domain/catalog.js";

function target(
  provider: string,
  model: string,
  options: { maxRetries?: number; contextWindow?: number; timeoutMs?: number } = {},
): Target {
  return {
    provider: {
      id: provider,
      name: provider,
      provider_type: "openai",
      endpoint: "http://127.0.0.1:1/v1",
      is_active: true,
      headers: {},
      config: ProviderConfigSchema.parse({
        timeout_ms: options.timeoutMs ?? 1_000,
        first_byte_timeout_ms: 1_000,
        idle_timeout_ms: 1_000,
        max_retries: options.maxRetries ?? 2,
        retries: { server_error: 2, overloaded: 2, rate_limited: 2, timeout: 1 },
        retry_initial_backoff_ms: 100,
        retry_max_backoff_ms: 1_000,
      }),
    },
    model: {
      model_name: model,
      provider_id: provider,
      context_window: options.contextWindow ?? 8_000,
      max_tokens: 1_000,
      cost: { input_per_million: 0, output_per_million: 0 },
      features: { ...DEFAULT_MODEL_FEATURES },
    },
  };
}

/** A clock that only moves when the executor sleeps, so the tests run instantly and exactly. */
function virtualEnvironment(): ExecutionEnvironment & { sleeps: number[] } {
  let now = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: (ms) => {
      sleeps.push(ms);
      now += ms;
      return Promise.resolve();
    },
    random: () => 0,
  };
}

const chain = (
  models: string[],
  triggers = { error: true, rate_limit: true, timeout: true },
): FallbackChain => ({
  id: "chain",
  models,
  triggers,
});

/**
 * An attempt function that fails with the scripted classes, then answers with the target's
 * provider id. A failure may take time on the virtual clock (`tookMs`), and may carry a retry-after.
 */
type Scripted = FailureClass | { failure: FailureClass; retryAfterMs?: number; tookMs?: number };

function scripted(failures: Scripted[], env?: ExecutionEnvironment) {
  const calls: string[] = [];
  const budgets: number[] = [];
  const attempt = async (t: Target, _signal: AbortSignal, budget: { budgetMs: number }) => {
    calls.push(t.provider.id);
    budgets.push(budget.budgetMs);
    const next = failures.shift();
    if (next === undefined) return t.provider.id;
    const { failure, retryAfterMs, tookMs } = typeof next === "string" ? { failure: next } : next;
    if (tookMs !== undefined) await env!.sleep(tookMs);
    throw new UpstreamError(
      failure,
      `failed: ${failure}`,
      retryAfterMs === undefined ? {} : { retryAfterMs },
    );
  };
  return { calls, budgets, attempt };
}

describe("executeWithFallback", () => {
  it("retries a server error with exponential backoff and reports every attempt", async () => {
    const env = virtualEnvironment();
    const { calls, attempt } = scripted(["server_error", "server_error"]);
    const result = await executeWithFallback({ targets: [target("a", "m")], deadline: 60_000 }, attempt, env);
    expect(result.value).toBe("a");
    expect(calls).toEqual(["a", "a", "a"]);
    expect(env.sleeps).toEqual([100, 200]);
    expect(result.attempts.map((a) => [a.outcome, a.error_code])).toEqual([
      ["error", "upstream_unavailable"],
      ["error", "upstream_unavailable"],
      ["success", undefined],
    ]);
  });

  it("lists a planned skip with its reason, never calls it, and goes on to the next target", async () => {
    const env = virtualEnvironment();
    const { calls, budgets, attempt } = scripted([]);
    const skip = {
      reason: "no_api_key" as const,
      detail: "API key env:OPENAI_API_KEY of provider 'a' is not set",
    };
    const plan = {
      targets: [{ ...target("a", "m1"), skip }, target("b", "m2")],
      chain: chain(["m1", "m2"]),
      deadline: 60_000,
    };
    const result = await executeWithFallback(plan, attempt, env);
    expect(calls).toEqual(["b"]);
    // The last callable target keeps the whole deadline: a skipped one takes no share of it.
    expect(budgets).toEqual([60_000]);
    expect(result.attempts).toEqual([
      {
        provider_id: "a",
        model: "m1",
        outcome: "skipped",
        skip_reason: "no_api_key",
        reason: skip.detail,
        latency_ms: 0,
      },
      { provider_id: "b", model: "m2", outcome: "success", latency_ms: 0 },
    ]);
  });

  it("lists an open breaker and a spent budget as skipped with their reasons", async () => {
    const env = virtualEnvironment();
    const { attempt } = scripted(["circuit_open", "local_rate_limited"]);
    const plan = {
      targets: [target("a", "m1"), target("b", "m2"), target("c", "m3")],
      chain: chain(["m1", "m2", "m3"]),
      deadline: 60_000,
    };
    const result = await executeWithFallback(plan, attempt, env);
    expect(result.attempts.map((a) => [a.provider_id, a.outcome, a.skip_reason, a.reason])).toEqual([
      ["a", "skipped", "circuit_open", "failed: circuit_open"],
      ["b", "skipped", "rate_limited", "failed: local_rate_limited"],
      ["c", "success", undefined, undefined],
    ]);
  });

  it("does not list a planned skip after a failure the chain does not fall back on", async () => {
    const env = virtualEnvironment();
    const { attempt } = scripted(["bad_request"]);
    const skip = { reason: "provider_inactive" as const, detail: "provider 'b' is not active" };
    const plan = {
      targets: [target("a", "m1"), { ...target("b", "m2"), skip }],
      chain: chain(["m1", "m2"]),
      deadline: 60_000,
    };
    const error = (await executeWithFallback(plan, attempt, env).catch(
      (e: unknown) => e,
    )) as LlmProviderError;
    expect(error.code).toBe("upstream_bad_request");
    expect((error.details?.attempts as { provider_id: string }[]).map((a) => a.provider_id)).toEqual(["a"]);
  });

  it("waits exactly the provider's retry-after", async () => {
    const env = virtualEnvironment();
    const { attempt } = scripted([{ failure: "rate_limited", retryAfterMs: 1_500 }]);
    await executeWithFallback({ targets: [target("a", "m")], deadline: 60_000 }, attempt, env);
    expect(env.sleeps).toEqual([1_500]);
  });

  it("does not retry a bad request and does not fall back on it", async () => {
    const env = virtualEnvironment();
    const { calls, attempt } = scripted(["bad_request"]);
    const plan = {
      targets: [target("a", "m1"), target("b", "m2")],
      chain: chain(["m1", "m2"]),
      deadline: 60_000,
    };
    const error = await executeWithFallback(plan, attempt, env).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LlmProviderError);
    expect((error as LlmProviderError).code).toBe("upstream_bad_request");
    expect(calls).toEqual(["a"]);
  });

  it("falls back after retries are spent, and names the target that answered", async () => {
    const env = virtualEnvironment();
    const { calls, attempt } = scripted(["overloaded", "overloaded"]);
    const plan = {
      targets: [target("a", "m1", { maxRetries: 1 }), target("b", "m2")],
      chain: chain(["m1", "m2"]),
      deadline: 60_000,
    };
    const result = await executeWithFallback(plan, attempt, env);
    expect(calls).toEqual(["a", "a", "b"]);
    expect(result.target.provider.id).toBe("b");
    expect(result.attempts).toHaveLength(3);
  });

  it("respects chain triggers: rate limits stay with the primary when that trigger is off", async () => {
    const env = virtualEnvironment();
    const { calls, attempt } = scripted(["rate_limited"]);
    const plan = {
      targets: [target("a", "m1", { maxRetries: 0 }), target("b", "m2")],
      chain: chain(["m1", "m2"], { error: true, rate_limit: false, timeout: true }),
      deadline: 60_000,
    };
    const error = (await executeWithFallback(plan, attempt, env).catch(
      (e: unknown) => e,
    )) as LlmProviderError;
    expect(error.code).toBe("rate_limited");
    expect(calls).toEqual(["a"]);
  });

  it("moves on to a larger context window only", async () => {
    const env = virtualEnvironment();
    const { calls, attempt } = scripted(["context_window_exceeded"]);
    const plan = {
      targets: [
        target("a", "small", { contextWindow: 8_000 }),
        target("b", "large", { contextWindow: 128_000 }),
      ],
      chain: chain(["small", "large"]),
      deadline: 60_000,
    };
    expect((await executeWithFallback(plan, attempt, env)).value).toBe("b");
    expect(calls).toEqual(["a", "b"]);

    const same = scripted(["context_window_exceeded"]);
    const samePlan = { ...plan, targets: [target("a", "small"), target("b", "also-small")] };
    const error = (await executeWithFallback(samePlan, same.attempt, env).catch(
      (e: unknown) => e,
    )) as LlmProviderError;
    expect(error.code).toBe("context_length_exceeded");
    expect(same.calls).toEqual(["a"]);
  });

  it("after a context-window failure, skips targets that are not larger and tries a larger one", async () => {
    const env = virtualEnvironment();
    const { calls, attempt } = scripted(["context_window_exceeded"]);
    const plan = {
      targets: [
        target("a", "small", { contextWindow: 8_000 }),
        target("b", "also-small", { contextWindow: 8_000 }),
        target("c", "large", { contextWindow: 200_000 }),
      ],
      chain: chain(["small", "also-small", "large"]),
      deadline: 60_000,
    };
    expect((await executeWithFallback(plan, attempt, env)).value).toBe("c");
    expect(calls).toEqual(["a", "c"]);
  });

  it("makes no further attempt once the caller's signal is aborted (shutdown)", async () => {
    const env = virtualEnvironment();
    const controller = new AbortController();
    const calls: string[] = [];
    const attempt = (t: Target) => {
      calls.push(t.provider.id);
      controller.abort();
      return Promise.reject(new UpstreamError("server_error", "failed"));
    };
    const plan = { targets: [target("a", "m")], deadline: 60_000, signal: controller.signal };
    const error = (await executeWithFallback(plan, attempt, env).catch(
      (e: unknown) => e,
    )) as LlmProviderError;
    expect(error.code).toBe("shutting_down");
    expect(calls).toEqual(["a"]);
  });

  it("never sleeps past the deadline: a long retry-after ends the request with its hint", async () => {
    const env = virtualEnvironment();
    const { calls, attempt } = scripted([{ failure: "rate_limited", retryAfterMs: 5_000 }]);
    const error = (await executeWithFallback(
      { targets: [target("a", "m")], deadline: 2_000 },
      attempt,
      env,
    ).catch((e: unknown) => e)) as LlmProviderError;
    expect(calls).toEqual(["a"]);
    expect(env.sleeps).toEqual([]);
    expect(error.code).toBe("rate_limited");
    expect(error.retryAfterMs).toBe(5_000);
  });

  it("turns a hung attempt into a timeout at the per-attempt limit", async () => {
    const hang = (_t: Target, signal: AbortSignal) =>
      new Promise<string>((_resolve, reject) =>
        signal.addEventListener("abort", () => reject(new Error("aborted"))),
      );
    const slow = target("a", "m", { maxRetries: 0 });
    slow.provider.config.timeout_ms = 20;
    const error = (await executeWithFallback(
      { targets: [slow], deadline: performance.now() + 5_000 },
      hang,
    ).catch((e: unknown) => e)) as LlmProviderError;
    expect(error.code).toBe("upstream_timeout");
    expect(error.message).toMatch(/within \d+ ms$/); // whole milliseconds, never 8270.529846999983
  });

  it("falls back at once after a slow failure while a target is left", async () => {
    const env = virtualEnvironment();
    const { calls, attempt } = scripted(
      [
        { failure: "timeout", tookMs: 20_000 },
        { failure: "server_error", tookMs: 5_000 }, // a 5xx slower than slow_failure_ms
      ],
      env,
    );
    const plan = {
      targets: [target("a", "m1"), target("b", "m2"), target("c", "m3")],
      chain: chain(["m1", "m2", "m3"]),
      deadline: 60_000,
    };
    const result = await executeWithFallback(plan, attempt, env);
    expect(calls).toEqual(["a", "b", "c"]);
    expect(result.value).toBe("c");
    expect(env.sleeps).toEqual([20_000, 5_000]); // the failures' own time: no backoff, no retry
  });

  it("retries a slow failure on the same target when no fallback is left and time allows", async () => {
    const env = virtualEnvironment();
    const { calls, attempt } = scripted([{ failure: "timeout", tookMs: 1_000 }], env);
    const result = await executeWithFallback({ targets: [target("a", "m")], deadline: 60_000 }, attempt, env);
    expect(calls).toEqual(["a", "a"]);
    expect(result.attempts.map((a) => a.outcome)).toEqual(["error", "success"]);
  });

  it("falls back at once on a long Retry-After when a target is left, and waits it out when none is", async () => {
    const env = virtualEnvironment();
    const withFallback = scripted([{ failure: "rate_limited", retryAfterMs: 10_000 }]);
    const plan = {
      targets: [target("a", "m1"), target("b", "m2")],
      chain: chain(["m1", "m2"]),
      deadline: 60_000,
    };
    expect((await executeWithFallback(plan, withFallback.attempt, env)).value).toBe("b");
    expect(env.sleeps).toEqual([]);
    const alone = scripted([{ failure: "rate_limited", retryAfterMs: 10_000 }]);
    expect(
      (await executeWithFallback({ targets: [target("a", "m")], deadline: 60_000 }, alone.attempt, env))
        .value,
    ).toBe("a");
    expect(env.sleeps).toEqual([10_000]);
  });

  it("gives each attempt what is left less the next target's share, so a slow failure cannot eat the chain's time", async () => {
    const env = virtualEnvironment();
    const { budgets, attempt } = scripted([{ failure: "timeout", tookMs: 30_000 }], env);
    const plan = {
      targets: [target("a", "m1", { timeoutMs: 60_000 }), target("b", "m2", { timeoutMs: 60_000 })],
      chain: chain(["m1", "m2"]),
      deadline: 60_000,
    };
    expect((await executeWithFallback(plan, attempt, env)).value).toBe("b");
    // The primary gets half; the fallback all that is left.
    expect(budgets).toEqual([30_000, 30_000]);
  });

  it("skips a target that would have too little time and leaves it all to the next", async () => {
    const env = virtualEnvironment();
    const { calls, attempt } = scripted([]);
    const plan = {
      targets: [target("a", "m1"), target("b", "m2")],
      chain: chain(["m1", "m2"]),
      deadline: 800,
    };
    const result = await executeWithFallback(plan, attempt, env);
    expect(calls).toEqual(["b"]);
    expect(result.attempts.map((a) => [a.provider_id, a.outcome, a.error_code])).toEqual([
      ["a", "skipped", "deadline_exceeded"],
      ["b", "success", undefined],
    ]);
  });

  it("rethrows errors that are not upstream failures (bugs are not retried)", async () => {
    const env = virtualEnvironment();
    const bug = () => Promise.reject(new TypeError("boom"));
    await expect(
      executeWithFallback({ targets: [target("a", "m")], deadline: 60_000 }, bug, env),
    ).rejects.toThrow(TypeError);
  });
});

describe("executeWithFallback: deployments of one model", () => {
  it("moves to the model's next deployment on a failure without any fallback chain", async () => {
    const env = virtualEnvironment();
    const { calls, attempt } = scripted(["server_error"]);
    const plan = { targets: [target("a", "m", { maxRetries: 0 }), target("b", "m")], deadline: 60_000 };
    const result = await executeWithFallback(plan, attempt, env);
    expect(calls).toEqual(["a", "b"]);
    expect(result.value).toBe("b");
  });

  it("tries the other deployments even where the chain's trigger is off, then stops before the next model", async () => {
    const env = virtualEnvironment();
    const { calls, attempt } = scripted(["rate_limited", "rate_limited"]);
    const plan = {
      targets: [
        target("a", "m1", { maxRetries: 0 }),
        target("b", "m1", { maxRetries: 0 }),
        target("c", "m2"),
      ],
      chain: chain(["m1", "m2"], { error: true, rate_limit: false, timeout: true }),
      deadline: 60_000,
    };
    await expect(executeWithFallback(plan, attempt, env)).rejects.toMatchObject({ code: "rate_limited" });
    expect(calls).toEqual(["a", "b"]);
  });

  it("falls back along the chain once the model's deployments are exhausted", async () => {
    const env = virtualEnvironment();
    const { calls, attempt } = scripted(["server_error", "server_error"]);
    const plan = {
      targets: [
        target("a", "m1", { maxRetries: 0 }),
        target("b", "m1", { maxRetries: 0 }),
        target("c", "m2"),
      ],
      chain: chain(["m1", "m2"]),
      deadline: 60_000,
    };
    const result = await executeWithFallback(plan, attempt, env);
    expect(calls).toEqual(["a", "b", "c"]);
    expect(result.attempts.map((a) => `${a.provider_id}/${a.model}:${a.outcome}`)).toEqual([
      "a/m1:error",
      "b/m1:error",
      "c/m2:success",
    ]);
  });

  it("does not try another deployment of a request refused as invalid", async () => {
    const env = virtualEnvironment();
    const { calls, attempt } = scripted(["bad_request"]);
    const plan = { targets: [target("a", "m"), target("b", "m")], deadline: 60_000 };
    await expect(executeWithFallback(plan, attempt, env)).rejects.toBeInstanceOf(LlmProviderError);
    expect(calls).toEqual(["a"]);
  });
});
