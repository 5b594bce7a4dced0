import { randomUUID } from "node:crypto";
import { CompleteChatSchema, LlmProviderError, parseRequest } from "@llm-provider/contracts";
import type { ChatCompletion, CompleteChat } from "@llm-provider/contracts";
import { planTargets, upstreamModelName } from "../domain/catalog.js";
import type { Catalog } from "../domain/catalog.js";
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
    const servable = targets.filter((target) => deps.clients.has(target.provider.id));
    if (servable.length === 0) {
      throw new LlmProviderError(
        "upstream_unavailable",
        `no active provider can serve model '${request.model}'`,
        {
          retryable: false,
        },
      );
    }

    await deps.policyGate.check({
      requestId: context.requestId,
      operation: "chat",
      model: model.model_name,
      providerId: model.provider_id,
      estimatedTokens: estimatePromptTokens(request.messages) + (request.max_tokens ?? model.max_tokens),
    });

    const deadline = context.receivedAt + (request.timeout_ms ?? deps.defaultTimeoutMs);
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
    return completion;
  };
}

/** The requested model must exist, chat, and — when functions are sent — call functions. */
function resolveChatModel(catalog: Catalog, request: CompleteChat) {
  const model = catalog.models.get(request.model);
  if (!model) {
    throw new LlmProviderError("unknown_model", `model '${request.model}' is not configured`, {
      field: "model",
    });
  }
  if (!model.features.chat) {
    throw new LlmProviderError("unsupported", `model '${model.model_name}' does not support chat`, {
      field: "model",
    });
  }
  const usesFunctions = request.functions !== undefined || request.tools !== undefined;
  if (usesFunctions && !model.features.function_calling) {
    throw new LlmProviderError(
      "unsupported",
      `model '${model.model_name}' does not support function calling`,
      {
        field: request.tools !== undefined ? "tools" : "functions",
      },
    );
  }
  if (request.max_tokens !== undefined && request.max_tokens > model.max_tokens) {
    throw new LlmProviderError(
      "invalid_request",
      `max_tokens ${request.max_tokens} exceeds model '${model.model_name}' limit of ${model.max_tokens}`,
      { field: "max_tokens" },
    );
  }
  return model;
}
