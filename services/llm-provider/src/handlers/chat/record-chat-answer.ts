import { withinMs } from "../../shared/within-ms.js";
import { SPEND_RECORD_WAIT_MS } from "../../routing/caller-budgets.js";
import { randomUUID } from "node:crypto";
import { SUBJECTS } from "@llm-provider/contracts";
import type { Attempt, ChatCompletion, CompleteChat } from "@llm-provider/contracts";
import type { Target } from "../../domain/catalog.js";
import { computeChatCost } from "../../domain/cost.js";
import { buildChatCompleted } from "../../domain/events.js";
import { withCacheBreakpointWarning } from "../../domain/prompt-cache.js";
import type { StreamEnd } from "../../routing/consume-chat-stream.js";
import { withFallbackWarning } from "../../routing/fallback-warning.js";
import { recordRequestOutcome } from "../../telemetry/record-request-outcome.js";
import type { RequestContext } from "../../ports/request-handler.js";
import type { ChatDeps, PreparedChat } from "./prepare-chat.js";
import { elapsedMs } from "../request-record.js";
import { spendRequestOf } from "../request-admission.js";

/** What a `ChatCompletion` and a stream's `done` message both say about an answer. */
export type AnsweredChatFields = Pick<
  ChatCompletion,
  | "id"
  | "model"
  | "provider_id"
  | "upstream_id"
  | "finish_reason"
  | "raw_finish_reason"
  | "usage"
  | "latency_ms"
  | "attempts"
  | "warnings"
  | "thinking_blocks"
>;

/** The answer of the answering target as the reply states it, priced with that target's model. */
export function answeredChatFields(
  end: StreamEnd,
  execution: { target: Target; attempts: Attempt[] },
  request: CompleteChat,
  context: RequestContext,
): AnsweredChatFields {
  const { target, attempts } = execution;
  const promptTokens = end.usage?.promptTokens ?? 0;
  const completionTokens = end.usage?.completionTokens ?? 0;
  const fields: AnsweredChatFields = {
    id: `chatcmpl-${randomUUID()}`,
    model: target.model.model_name,
    provider_id: target.provider.id,
    upstream_id: end.upstreamId,
    finish_reason: end.finishReason,
    raw_finish_reason: end.rawFinishReason,
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      cached_input_tokens: end.usage?.cacheReadTokens ?? 0,
      cache_write_tokens: end.usage?.cacheWriteTokens ?? 0,
      reasoning_tokens: end.usage?.reasoningTokens ?? 0,
      // The provider's own figure (OpenRouter) when it reports one; else the configured prices.
      cost: computeChatCost(
        end.usage ?? { promptTokens, completionTokens },
        target.model.cost,
        end.providerCostUsd,
      ),
    },
    latency_ms: elapsedMs(context),
    attempts,
    warnings: withFallbackWarning(
      withCacheBreakpointWarning(end.warnings, request, target.model),
      request.model,
      target,
      attempts,
    ),
  };
  if (end.thinkingBlocks !== undefined) fields.thinking_blocks = end.thinkingBlocks;
  return fields;
}

/**
 * An answered chat: the caller's budget settled with the provider's count, the `chat_completed`
 * event, the span and metrics, the log line. Resolves once the event is stored (as
 * `events.delivery` says). `logged`: what the log line adds (a stream's chunk count).
 */
export async function recordChatAnswer(
  deps: ChatDeps,
  prepared: PreparedChat,
  context: RequestContext,
  answer: { completion: ChatCompletion; end: StreamEnd },
  logged: { message: string; fields?: Record<string, unknown> },
): Promise<void> {
  const { completion, end } = answer;
  settleCallerTokens(deps, prepared, context, end.usage);
  // What the caller asked for is what its per-model budgets count, whichever model answered.
  const spent = withinMs(
    deps.callerBudgets.record(context.caller, spendRequestOf(prepared.request), {
      usd: completion.usage.cost.total,
      tokens: completion.usage.total_tokens,
    }),
    SPEND_RECORD_WAIT_MS,
  );
  const stored = deps.events.emit(
    SUBJECTS.chatCompletedEvent,
    () => buildChatCompleted(completion, prepared.request, prepared.eventContext),
    prepared.deadline,
  );
  recordRequestOutcome(context.trace, {
    operation: "chat",
    caller: context.caller,
    model: completion.model,
    providerId: completion.provider_id,
    costUsd: completion.usage.cost.total,
    attempts: completion.attempts,
  });
  context.log.debug(
    {
      request_id: context.requestId,
      model: completion.model,
      provider_id: completion.provider_id,
      attempts: completion.attempts.length,
      ...logged.fields,
      finish_reason: completion.finish_reason,
      total_tokens: completion.usage.total_tokens,
      cost_usd: completion.usage.cost.total,
      latency_ms: completion.latency_ms,
    },
    logged.message,
  );
  await Promise.all([stored, spent]);
}

/**
 * The caller's budget charged with the provider's count instead of the estimate. An answer
 * without a count keeps the estimate (as providers count it).
 */
function settleCallerTokens(
  deps: ChatDeps,
  prepared: PreparedChat,
  context: RequestContext,
  usage: StreamEnd["usage"],
): void {
  if (!usage) return;
  void deps.callerLimits.settle(context.caller, {
    estimatedTokens: prepared.estimatedTokens,
    actualTokens: usage.promptTokens + usage.completionTokens,
    startedAt: prepared.admittedAt,
  });
}
