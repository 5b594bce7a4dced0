import { randomUUID } from "node:crypto";
import { SUBJECTS } from "@llm-provider/contracts";
import type { Attempt, ChatCompletion } from "@llm-provider/contracts";
import { upstreamModelName } from "../domain/catalog.js";
import type { Target } from "../domain/catalog.js";
import { computeChatCost } from "../domain/cost.js";
import { buildChatCompleted } from "../domain/events.js";
import type { ChatOutcome } from "../providers/port.js";
import { executeWithFallback } from "../routing/execute-with-fallback.js";
import type { ExecutionResult } from "../routing/execute-with-fallback.js";
import { createChatAnswerAssembler } from "../routing/chat-answer-assembler.js";
import { readsAsStream, streamAttempt } from "../routing/stream-attempt.js";
import { recordRequestOutcome } from "../telemetry/record-request-outcome.js";
import type { Handler, RequestContext } from "./context.js";
import { elapsedMs, prepareChat, recordChatFailure, settleCallerTokens } from "./prepare-chat.js";
import type { ChatDeps } from "./prepare-chat.js";

export type CompleteChatDeps = ChatDeps;

/** CMD-001: validate → POL-LLM-003 → resolve model → policy gate → route → record → ChatCompletion. */
export function createCompleteChatHandler(deps: CompleteChatDeps): Handler {
  return async function completeChat(body, context) {
    const prepared = await prepareChat(body, context, deps, false);
    const { request, targets, chain, deadline, eventContext } = prepared;
    const readsTargetAsStream = (target: Target) =>
      readsAsStream(target, deps.clients.get(target.provider.id));
    let execution: ExecutionResult<ChatOutcome>;
    try {
      execution = await executeWithFallback(
        { targets, chain, deadline, signal: context.signal, streamed: readsTargetAsStream },
        (target, signal, budget) => {
          const client = deps.clients.get(target.provider.id)!;
          const call = {
            upstreamModel: upstreamModelName(target.model),
            modelMaxTokens: target.model.max_tokens,
            request,
            signal,
            trace: context.trace,
          };
          if (!readsTargetAsStream(target)) return client.completeChat(call);
          // Nothing reaches the caller before the answer is whole, so any failure may still fall back.
          const answer = createChatAnswerAssembler();
          return streamAttempt(client, call, target, budget, (delta) => answer.add(delta)).then((stream) =>
            answer.outcome(stream.end),
          );
        },
      );
    } catch (error) {
      await recordChatFailure(deps, prepared, context, error);
      throw error;
    }

    deps.health.recordAttempts(execution.attempts);
    const completion = toChatCompletion(execution, context);
    settleCallerTokens(deps, prepared, context, execution.value.usage);
    const stored = deps.events.emit(
      SUBJECTS.chatCompletedEvent,
      () => buildChatCompleted(completion, request, eventContext),
      deadline,
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
        finish_reason: completion.finish_reason,
        total_tokens: completion.usage.total_tokens,
        cost_usd: completion.usage.cost.total,
        latency_ms: completion.latency_ms,
      },
      "chat completed",
    );
    await stored;
    return completion;
  };
}

/** The neutral outcome of the answering target → the reply, priced with that target's model. */
function toChatCompletion(
  { value: outcome, target, attempts }: { value: ChatOutcome; target: Target; attempts: Attempt[] },
  context: RequestContext,
): ChatCompletion {
  const promptTokens = outcome.usage?.promptTokens ?? 0;
  const completionTokens = outcome.usage?.completionTokens ?? 0;
  const completion: ChatCompletion = {
    id: `chatcmpl-${randomUUID()}`,
    request_id: context.requestId,
    created_at: new Date().toISOString(),
    model: target.model.model_name,
    provider_id: target.provider.id,
    upstream_id: outcome.upstreamId,
    content: outcome.content,
    finish_reason: outcome.finishReason,
    raw_finish_reason: outcome.rawFinishReason,
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      // The provider's own figure (OpenRouter) when it reports one; else the configured prices.
      cost: computeChatCost(
        outcome.usage ?? { promptTokens, completionTokens },
        target.model.cost,
        outcome.providerCostUsd,
      ),
    },
    latency_ms: elapsedMs(context),
    attempts,
    warnings: outcome.warnings,
  };
  if (outcome.functionCall) completion.function_call = outcome.functionCall;
  if (outcome.toolCalls) completion.tool_calls = outcome.toolCalls;
  return completion;
}
