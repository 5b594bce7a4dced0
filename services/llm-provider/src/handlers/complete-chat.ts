import { randomUUID } from "node:crypto";
import { CompleteChatSchema, LlmProviderError, parseRequest, SUBJECTS } from "@llm-provider/contracts";
import type { Attempt, ChatCompletion, CompleteChat } from "@llm-provider/contracts";
import { planTargets, upstreamModelName } from "../domain/catalog.js";
import type { Catalog, ModelEntry, Target } from "../domain/catalog.js";
import { findChatMismatch } from "../domain/chat-requirements.js";
import { computeCost } from "../domain/cost.js";
import { buildChatCompleted, buildChatFailed } from "../domain/events.js";
import type { EventContext } from "../domain/events.js";
import { checkMessagesNonEmpty } from "../domain/policies.js";
import { estimatePromptTokens } from "../domain/tokens.js";
import type { ChatOutcome, ProviderClient } from "../providers/port.js";
import { executeWithFallback } from "../routing/execute-with-fallback.js";
import type { ExecutionResult } from "../routing/execute-with-fallback.js";
import { currentTraceparent } from "../telemetry/nats-trace-context.js";
import { recordRequestOutcome } from "../telemetry/record-request-outcome.js";
import type { Handler, RequestContext } from "./context.js";
import type { EventSink } from "./event-sink.js";
import type { PolicyGate } from "./policy-gate.js";

export interface CompleteChatDeps {
  catalog: () => Catalog;
  clients: ReadonlyMap<string, ProviderClient>;
  policyGate: PolicyGate;
  events: EventSink;
  defaultTimeoutMs: number;
  /** Copy prompt and answer into events (events.include_content). */
  includeContentInEvents: boolean;
}

/** CMD-001: validate → POL-LLM-003 → resolve model → policy gate → route → record → ChatCompletion. */
export function createCompleteChatHandler(deps: CompleteChatDeps): Handler {
  return async function completeChat(body, context) {
    const request = parseRequest(CompleteChatSchema, body);
    const violation = checkMessagesNonEmpty(request.messages);
    if (violation) {
      throw new LlmProviderError("invalid_request", violation.message, {
        field: violation.field,
        policy: violation.policy,
      });
    }
    const catalog = deps.catalog();
    const model = resolveChatModel(catalog, request);
    const { targets, chain } = planTargets(catalog, model.model_name);
    const servable = targets.filter(
      (target) =>
        deps.clients.has(target.provider.id) && findChatMismatch(target.model, request) === undefined,
    );
    if (servable.length === 0) {
      throw new LlmProviderError(
        "upstream_unavailable",
        `no active provider can serve model '${request.model}'`,
        {
          retryable: false,
        },
      );
    }

    const deadline = context.receivedAt + (request.timeout_ms ?? deps.defaultTimeoutMs);
    await deps.policyGate.check({
      deadline,
      requestId: context.requestId,
      operation: "chat",
      model: model.model_name,
      providerId: model.provider_id,
      estimatedTokens: estimatePromptTokens(request.messages) + (request.max_tokens ?? model.max_tokens),
    });

    const eventContext: EventContext = {
      requestId: context.requestId,
      time: new Date(),
      // Our own span when tracing is on, so consumers of the event link to it; else the caller's.
      traceparent: currentTraceparent() ?? context.traceparent,
      includeContent: deps.includeContentInEvents,
    };
    let execution: ExecutionResult<ChatOutcome>;
    try {
      execution = await executeWithFallback(
        { targets: servable, chain, deadline, signal: context.signal },
        (target, signal) =>
          deps.clients.get(target.provider.id)!.completeChat({
            upstreamModel: upstreamModelName(target.model),
            request,
            signal,
          }),
      );
    } catch (error) {
      if (error instanceof LlmProviderError) {
        const failure = {
          code: error.code,
          message: error.message,
          attempts: (error.details?.attempts as Attempt[] | undefined) ?? [],
          latencyMs: elapsedMs(context),
        };
        deps.events.emit(SUBJECTS.chatFailedEvent, buildChatFailed(request, failure, eventContext));
      }
      throw error;
    }

    const completion = toChatCompletion(execution, context);
    recordRequestOutcome({
      operation: "chat",
      model: completion.model,
      providerId: completion.provider_id,
      costUsd: completion.usage.cost.total,
      attempts: completion.attempts,
    });
    deps.events.emit(SUBJECTS.chatCompletedEvent, buildChatCompleted(completion, request, eventContext));
    context.log.info(
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
    return completion;
  };
}

function elapsedMs(context: RequestContext): number {
  return Math.round((performance.now() - context.receivedAt) * 1000) / 1000;
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
      cost: computeCost(promptTokens, completionTokens, target.model.cost),
    },
    latency_ms: elapsedMs(context),
    attempts,
    warnings: outcome.warnings,
  };
  if (outcome.functionCall) completion.function_call = outcome.functionCall;
  if (outcome.toolCalls) completion.tool_calls = outcome.toolCalls;
  return completion;
}

/** The requested model must exist and be able to take the request; the caller hears why not. */
function resolveChatModel(catalog: Catalog, request: CompleteChat): ModelEntry {
  const model = catalog.models.get(request.model);
  if (!model) {
    throw new LlmProviderError("unknown_model", `model '${request.model}' is not configured`, {
      field: "model",
    });
  }
  const mismatch = findChatMismatch(model, request);
  if (mismatch) throw new LlmProviderError(mismatch.kind, mismatch.message, { field: mismatch.field });
  return model;
}
