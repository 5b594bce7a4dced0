import { LlmProviderError } from "@llm-provider/contracts";
import type { Attempt } from "@llm-provider/contracts";
import { attemptBudgetMs, MIN_ATTEMPT_MS, retryDelayMs } from "../domain/attempt-planning.js";
import { limitsOf } from "../domain/catalog.js";
import type { FallbackChain, PlannedTarget, Target, TargetSkip } from "../domain/catalog.js";
import { FailureClass, UpstreamError, failureTraits, isLocalRefusal } from "../domain/failure.js";

export interface ExecutionPlan {
  /** In order; one with `skip` is listed as skipped when routing reaches it, never called. */
  targets: readonly PlannedTarget[];
  chain?: FallbackChain | undefined;
  /** Absolute deadline (ms, same clock as `now`) that all attempts together must keep. */
  deadline: number;
  /** Aborted when the caller no longer waits (worker shutdown): no further attempts are made. */
  signal?: AbortSignal | undefined;
  /**
   * Whether the attempt on a target streams: it then polices its first piece and its gaps itself
   * (within `AttemptBudget.budgetMs`), and only the deadline bounds it whole. Otherwise the attempt
   * is cut at its time limit (`timeout_ms`) or its budget, whichever is first.
   */
  streamed?: ((target: Target) => boolean) | undefined;
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

/** What one attempt may spend before the next target's share of the deadline. */
export interface AttemptBudget {
  budgetMs: number;
}

export type AttemptFunction<T> = (target: Target, signal: AbortSignal, budget: AttemptBudget) => Promise<T>;

/**
 * Runs `attempt` along the plan's targets within one deadline. Each attempt gets a budget that
 * keeps time for the next target; a target whose budget is too small is skipped. What is cheap
 * to retry is retried on the same target, a slow failure falls back at once (see
 * `retryDelayMs`), and a fallback happens only when the chain's trigger for that failure is on.
 * Every target passed over is listed in the attempts as skipped, with the reason.
 * Throws a typed `LlmProviderError` that lists the attempts.
 */
export async function executeWithFallback<T>(
  plan: ExecutionPlan,
  attempt: AttemptFunction<T>,
  environment: ExecutionEnvironment = realEnvironment,
): Promise<ExecutionResult<T>> {
  const attempts: Attempt[] = [];
  let lastError: UpstreamError | undefined;
  let previous: Target | undefined;
  const { targets } = plan;

  for (let index = 0; index < targets.length; index++) {
    const target = targets[index]!;
    if (lastError && previous) {
      const decision = fallbackDecision(lastError, previous, target, plan.chain);
      if (decision === "stop") break;
      if (decision === "skip") continue;
    }
    if (target.skip) {
      attempts.push(skippedAttempt(target, target.skip));
      continue;
    }
    previous = target;
    const next = targets.slice(index + 1).find((later) => !later.skip);
    const limits = limitsOf(target);
    const streamed = plan.streamed?.(target) ?? false;
    const retriesOfClass = new Map<FailureClass, number>();
    for (let retry = 0; ; retry++) {
      const remaining = plan.deadline - environment.now();
      if (remaining <= 0) throw deadlineExceeded(attempts, lastError);
      if (plan.signal?.aborted) throw abandoned(plan.signal, attempts);
      const budgetMs = attemptBudgetMs(remaining, next && limitsOf(next).timeout_ms);
      if (next && budgetMs < MIN_ATTEMPT_MS) {
        // Too little time for this target to answer: leave it all to the next one.
        attempts.push(tooLateAttempt(target, budgetMs));
        break;
      }
      const started = environment.now();
      try {
        const timeoutMs = streamed ? remaining : Math.min(limits.timeout_ms, budgetMs);
        const value = await attemptWithTimeout(attempt, target, timeoutMs, { budgetMs }, plan.signal);
        attempts.push(record(target, "success", environment.now() - started));
        return { value, target, attempts };
      } catch (error) {
        if (plan.signal?.aborted) throw abandoned(plan.signal, attempts);
        if (error instanceof LlmProviderError) {
          // A failure the attempt already made final (e.g. a stream cut after it began, for a
          // caller that cannot take a restart): no retry, no fallback, but every attempt is listed.
          attempts.push({ ...record(target, "error", environment.now() - started), error_code: error.code });
          throw withAttempts(error, attempts);
        }
        if (!(error instanceof UpstreamError)) throw error;
        lastError = error;
        const attemptMs = environment.now() - started;
        attempts.push(attemptOf(target, error, attemptMs));
        if (environment.now() >= plan.deadline) throw deadlineExceeded(attempts, lastError);
        const ofClass = retriesOfClass.get(error.failure) ?? 0;
        const delay = retryDelayMs(
          { failure: error.failure, attemptMs, retryAfterMs: error.retryAfterMs },
          {
            retries: retry,
            retriesOfClass: ofClass,
            fallbackLeft: hasFallback(error, target, targets.slice(index + 1), plan.chain),
            remainingMs: plan.deadline - environment.now(),
            random: environment.random(),
          },
          target.provider.config,
        );
        if (delay === undefined) break;
        retriesOfClass.set(error.failure, ofClass + 1);
        await environment.sleep(delay);
      }
    }
  }
  throw noAnswer(lastError, attempts);
}

/** The error of a plan whose targets all failed or were passed over. */
function noAnswer(lastError: UpstreamError | undefined, attempts: Attempt[]): LlmProviderError {
  if (lastError !== undefined) return toLlmProviderError(lastError, attempts);
  if (attempts.some((attempt) => attempt.skip_reason === "not_enough_time"))
    return deadlineExceeded(attempts, undefined);
  return new LlmProviderError("upstream_unavailable", "no provider can be called for this request", {
    retryable: false,
    details: { attempts },
  });
}

/** A target passed over because the deadline would leave it less than `MIN_ATTEMPT_MS`. */
function tooLateAttempt(target: Target, budgetMs: number): Attempt {
  return {
    ...skippedAttempt(target, {
      reason: "not_enough_time",
      detail: `${Math.round(budgetMs)} ms of the deadline would be left for it`,
    }),
    error_code: "deadline_exceeded",
  };
}

async function attemptWithTimeout<T>(
  attempt: AttemptFunction<T>,
  target: Target,
  timeoutMs: number,
  budget: AttemptBudget,
  parent: AbortSignal | undefined,
): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const abortFromParent = () => controller.abort();
  parent?.addEventListener("abort", abortFromParent, { once: true });
  try {
    return await attempt(target, controller.signal, budget);
  } catch (error) {
    if (
      controller.signal.aborted &&
      !(error instanceof UpstreamError && error.failure !== FailureClass.timeout)
    ) {
      throw new UpstreamError(
        FailureClass.timeout,
        `no answer from provider within ${Math.round(timeoutMs)} ms`,
        { cause: error },
      );
    }
    throw error;
  } finally {
    clearTimeout(timer);
    parent?.removeEventListener("abort", abortFromParent);
  }
}

/** Whether a target after `from` would be tried for `error` (the chain takes it there). */
function hasFallback(
  error: UpstreamError,
  from: Target,
  rest: readonly PlannedTarget[],
  chain: FallbackChain | undefined,
): boolean {
  return rest.some((to) => !to.skip && fallbackDecision(error, from, to, chain) === "try");
}

/**
 * After `error` on `from`, whether to try `to`: a failure without a fallback trigger stops; a
 * context-window failure skips targets whose window is not larger. Another deployment of the same
 * model is tried on any trigger (it is the same model elsewhere); another model only when the
 * chain's trigger is on.
 */
function fallbackDecision(
  error: UpstreamError,
  from: Target,
  to: Target,
  chain: FallbackChain | undefined,
): "try" | "skip" | "stop" {
  const trigger = failureTraits(error.failure).fallbackTrigger;
  if (trigger === undefined) return "stop";
  if (trigger === "context_window")
    return to.model.context_window > from.model.context_window ? "try" : "skip";
  if (to.model.model_name === from.model.model_name) return "try";
  if (chain === undefined) return "stop";
  return chain.triggers[trigger] ? "try" : "stop";
}

function record(target: Target, outcome: Attempt["outcome"], latencyMs: number): Attempt {
  return {
    provider_id: target.provider.id,
    model: target.model.model_name,
    outcome,
    latency_ms: Math.round(latencyMs * 1000) / 1000,
  };
}

/** A target not called, and why. */
export function skippedAttempt(target: Target, skip: TargetSkip): Attempt {
  return { ...record(target, "skipped", 0), skip_reason: skip.reason, reason: skip.detail };
}

/** A failed attempt; a refusal decided here (breaker open, budget spent) is listed as skipped. */
function attemptOf(target: Target, error: UpstreamError, attemptMs: number): Attempt {
  const errorCode = failureTraits(error.failure).errorCode;
  if (isLocalRefusal(error.failure)) {
    const reason = error.failure === FailureClass.circuitOpen ? "circuit_open" : "rate_limited";
    return { ...skippedAttempt(target, { reason, detail: error.message }), error_code: errorCode };
  }
  // No `reason`: a provider's own words may quote the request, and attempts go into events.
  return { ...record(target, "error", attemptMs), error_code: errorCode };
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
