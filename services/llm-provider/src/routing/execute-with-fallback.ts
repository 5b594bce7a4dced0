import { LlmProviderError } from "@llm-provider/contracts";
import type { Attempt } from "@llm-provider/contracts";
import { exponentialBackoffMs } from "../domain/backoff.js";
import type { FallbackChain, Target } from "../domain/catalog.js";
import { FailureClass, UpstreamError, failureTraits, isLocalRefusal } from "../domain/failure.js";

/** Longest `retry-after` we wait out on the same target; a longer one moves on to the fallback. */
export const MAX_RETRY_AFTER_MS = 30_000;

export interface ExecutionPlan {
  targets: readonly Target[];
  chain?: FallbackChain | undefined;
  /** Absolute deadline (ms, same clock as `now`) that all attempts together must keep. */
  deadline: number;
  /** Aborted when the caller no longer waits (worker shutdown): no further attempts are made. */
  signal?: AbortSignal | undefined;
  /**
   * Time limit of one attempt on a target; default its `timeout_ms`. Streams pass their own (they
   * police time to first piece and stalls themselves, and a long answer may take long).
   */
  attemptTimeoutMs?: ((target: Target) => number) | undefined;
}

export interface ExecutionEnvironment {
  now(): number;
  sleep(ms: number): Promise<void>;
  random(): number;
}

export const realEnvironment: ExecutionEnvironment = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random,
};

export interface ExecutionResult<T> {
  value: T;
  target: Target;
  attempts: Attempt[];
}

export type AttemptFunction<T> = (target: Target, signal: AbortSignal) => Promise<T>;

/**
 * Runs `attempt` along the plan's targets: retries what a retry can fix (with backoff or the
 * provider's retry-after), falls back when the chain's trigger for that failure is on, and never
 * runs past the deadline. Throws a typed `LlmProviderError` that lists the attempts.
 */
export async function executeWithFallback<T>(
  plan: ExecutionPlan,
  attempt: AttemptFunction<T>,
  environment: ExecutionEnvironment = realEnvironment,
): Promise<ExecutionResult<T>> {
  const attempts: Attempt[] = [];
  let lastError: UpstreamError | undefined;
  let previous: Target | undefined;

  for (const target of plan.targets) {
    if (lastError && previous) {
      const decision = fallbackDecision(lastError, previous, target, plan.chain);
      if (decision === "stop") break;
      if (decision === "skip") continue;
    }
    previous = target;
    const { max_retries: maxRetries } = target.provider.config;
    for (let retry = 0; retry <= maxRetries; retry++) {
      const remaining = plan.deadline - environment.now();
      if (remaining <= 0) throw deadlineExceeded(attempts, lastError);
      if (plan.signal?.aborted) throw abandoned(plan.signal, attempts);
      const started = environment.now();
      try {
        const limit = plan.attemptTimeoutMs?.(target) ?? target.provider.config.timeout_ms;
        const timeoutMs = Math.min(limit, remaining);
        const value = await attemptWithTimeout(attempt, target, timeoutMs, plan.signal);
        attempts.push(record(target, "success", environment.now() - started));
        return { value, target, attempts };
      } catch (error) {
        if (plan.signal?.aborted) throw abandoned(plan.signal, attempts);
        if (error instanceof LlmProviderError) {
          // A failure the attempt already made final (e.g. a stream cut after it began): no retry,
          // no fallback, but the caller still learns of every attempt.
          attempts.push({ ...record(target, "error", environment.now() - started), error_code: error.code });
          throw withAttempts(error, attempts);
        }
        if (!(error instanceof UpstreamError)) throw error;
        lastError = error;
        attempts.push(
          record(
            target,
            isLocalRefusal(error.failure) ? "skipped" : "error",
            environment.now() - started,
            error.failure,
          ),
        );
        if (environment.now() >= plan.deadline) throw deadlineExceeded(attempts, lastError);
        const delay = retryDelay(error, retry, maxRetries, target, environment.random());
        if (delay === undefined || environment.now() + delay >= plan.deadline) break;
        await environment.sleep(delay);
      }
    }
  }
  if (lastError === undefined) {
    throw new LlmProviderError("upstream_unavailable", "no active provider serves this model");
  }
  throw toLlmProviderError(lastError, attempts);
}

async function attemptWithTimeout<T>(
  attempt: AttemptFunction<T>,
  target: Target,
  timeoutMs: number,
  parent: AbortSignal | undefined,
): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const abortFromParent = () => controller.abort();
  parent?.addEventListener("abort", abortFromParent, { once: true });
  try {
    return await attempt(target, controller.signal);
  } catch (error) {
    if (
      controller.signal.aborted &&
      !(error instanceof UpstreamError && error.failure !== FailureClass.timeout)
    ) {
      throw new UpstreamError(FailureClass.timeout, `no answer from provider within ${timeoutMs} ms`, {
        cause: error,
      });
    }
    throw error;
  } finally {
    clearTimeout(timer);
    parent?.removeEventListener("abort", abortFromParent);
  }
}

/** Delay before the next try on the same target, or `undefined` when retrying can't help. */
function retryDelay(
  error: UpstreamError,
  retry: number,
  maxRetries: number,
  target: Target,
  random: number,
): number | undefined {
  if (!failureTraits(error.failure).retryable || retry >= maxRetries) return undefined;
  if (error.retryAfterMs !== undefined) {
    return error.retryAfterMs > MAX_RETRY_AFTER_MS ? undefined : error.retryAfterMs;
  }
  const { retry_initial_backoff_ms: initialMs, retry_max_backoff_ms: maxMs } = target.provider.config;
  return exponentialBackoffMs(retry, { initialMs, maxMs }, random);
}

/**
 * After `error` on `from`, whether to try `to`: a failure without a fallback trigger (or with the
 * chain's trigger off) stops; a context-window failure skips targets whose window is not larger.
 */
function fallbackDecision(
  error: UpstreamError,
  from: Target,
  to: Target,
  chain: FallbackChain | undefined,
): "try" | "skip" | "stop" {
  const trigger = failureTraits(error.failure).fallbackTrigger;
  if (chain === undefined || trigger === undefined) return "stop";
  if (trigger === "context_window")
    return to.model.context_window > from.model.context_window ? "try" : "skip";
  return chain.triggers[trigger] ? "try" : "stop";
}

function record(
  target: Target,
  outcome: Attempt["outcome"],
  latencyMs: number,
  failure?: FailureClass,
): Attempt {
  const attempt: Attempt = {
    provider_id: target.provider.id,
    model: target.model.model_name,
    outcome,
    latency_ms: Math.round(latencyMs * 1000) / 1000,
  };
  if (failure !== undefined) attempt.error_code = failureTraits(failure).errorCode;
  return attempt;
}

function withAttempts(error: LlmProviderError, attempts: Attempt[]): LlmProviderError {
  return new LlmProviderError(error.code, error.message, {
    field: error.field,
    policy: error.policy,
    retryable: error.retryable,
    retryAfterMs: error.retryAfterMs,
    details: { ...error.details, attempts },
  });
}

/** The caller's signal ended the request: a cancellation says so in its reason, else it is a shutdown. */
function abandoned(signal: AbortSignal, attempts: Attempt[]): LlmProviderError {
  const reason: unknown = signal.reason;
  if (reason instanceof LlmProviderError) {
    return new LlmProviderError(reason.code, reason.message, { details: { attempts } });
  }
  return new LlmProviderError("shutting_down", "worker shut down before the request finished", {
    details: { attempts },
  });
}

function deadlineExceeded(attempts: Attempt[], lastError: UpstreamError | undefined): LlmProviderError {
  const reason = lastError ? `; last failure: ${lastError.message}` : "";
  return new LlmProviderError(
    "deadline_exceeded",
    `request deadline passed after ${attempts.length} attempt(s)${reason}`,
    {
      details: { attempts },
    },
  );
}

export function toLlmProviderError(error: UpstreamError, attempts: Attempt[]): LlmProviderError {
  return new LlmProviderError(failureTraits(error.failure).errorCode, error.message, {
    ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
    details: {
      failure: error.failure,
      attempts,
      ...(error.providerCode ? { provider_code: error.providerCode } : {}),
    },
  });
}
