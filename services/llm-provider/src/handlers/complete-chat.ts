import { randomUUID } from "node:crypto";
import { CompleteChatSchema, LlmProviderError, parseRequest } from "@llm-provider/contracts";
import type { ChatCompletion, CompleteChat } from "@llm-provider/contracts";
import { planTargets, upstreamModelName } from "../domain/catalog.js";
import type { Catalog, ModelEntry } from "../domain/catalog.js";
import { findChatMismatch } from "../domain/chat-requirements.js";
import { computeCost } from "../domain/cost.js";
import { checkMessagesNonEmpty } from "../domain/policies.js";
import { estimatePromptTokens } from "../domain/tokens.js";
import type { ProviderClient } from "../providers/port.js";
import { executeWithFallback } from "../routing/execute-with-fallback.js";
import type { Handler } from "./context.js";
import type { PolicyGate } from "./policy-gate.js";

export interface CompleteChatDeps {
  catalog: () => Catalog;
  clients: ReadonlyMap<string, ProviderClient>;
  policyGate: PolicyGate;
  defaultTimeoutMs: number;
}

/** CMD-001: validate → POL-LLM-003 → resolve model → policy gate → route → ChatCompletion. */
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

    const {
      value: outcome,
      target,
      attempts,
    } = await executeWithFallback(
      { targets: servable, chain, deadline, signal: context.signal },
      (attemptTarget, signal) =>
        deps.clients.get(attemptTarget.provider.id)!.completeChat({
          upstreamModel: upstreamModelName(attemptTarget.model),
          request,
          signal,
        }),
    );

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
      latency_ms: Math.round((performance.now() - context.receivedAt) * 1000) / 1000,
      attempts,
      warnings: outcome.warnings,
    };
    if (outcome.functionCall) completion.function_call = outcome.functionCall;
    if (outcome.toolCalls) completion.tool_calls = outcome.toolCalls;
    context.log.info(
      {
        request_id: context.requestId,
        model: completion.model,
        provider_id: completion.provider_id,
        attempts: attempts.length,
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
