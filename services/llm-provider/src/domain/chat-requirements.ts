import type { CompleteChat } from "@llm-provider/contracts";
import type { ModelEntry, Target } from "./catalog.js";
import { findContentMismatch } from "./content-requirements.js";

/** Why a model cannot take a chat request: which request field, and what is wrong. */
export interface Mismatch {
  field: string;
  message: string;
  /**
   * `unsupported`: the model lacks a feature; `unsupported_content`: it cannot take a content part;
   * `invalid_request`: the request asks too much.
   */
  kind: "unsupported" | "unsupported_content" | "invalid_request";
}

/** The output cap the request sets, under either of its names. */
export function requestedOutputCap(request: CompleteChat): { field: string; value: number } | undefined {
  if (request.max_tokens !== undefined) return { field: "max_tokens", value: request.max_tokens };
  if (request.max_completion_tokens !== undefined)
    return { field: "max_completion_tokens", value: request.max_completion_tokens };
  return undefined;
}

/** The request asks the model to reason (an effort other than none, or thinking enabled). */
export function asksForReasoning(request: CompleteChat): boolean {
  return (
    (request.reasoning_effort !== undefined && request.reasoning_effort !== "none") ||
    request.thinking?.type === "enabled"
  );
}

/** The request makes the model call a tool (`required`, or a named one). */
function forcesATool(request: CompleteChat): boolean {
  const choice = request.tool_choice ?? request.function_call;
  return choice === "required" || (typeof choice === "object" && choice !== null);
}

/**
 * Whether `target` can serve `request`. Used for the requested model (the mismatch becomes the
 * caller's error) and for every fallback target (a mismatching one is skipped), so a fallback
 * never gets a request its model cannot take.
 */
export function findChatMismatch(
  target: Target,
  request: CompleteChat,
  streaming = false,
): Mismatch | undefined {
  const { model } = target;
  const name = model.model_name;
  const unsupported = (field: string, message: string): Mismatch => ({
    kind: "unsupported",
    field,
    message: `model '${name}' ${message}`,
  });
  if (!model.features.chat) return unsupported("model", "does not support chat");
  if (streaming && !model.features.streaming) return unsupported("model", "does not support streaming");
  if ((request.functions !== undefined || request.tools !== undefined) && !model.features.function_calling)
    return unsupported(
      request.tools !== undefined ? "tools" : "functions",
      "does not support function calling",
    );
  if (asksForReasoning(request) && !model.features.reasoning)
    return unsupported(
      request.thinking ? "thinking" : "reasoning_effort",
      "does not reason (no reasoning capability)",
    );
  if (target.provider.provider_type === "anthropic" && asksForReasoning(request) && forcesATool(request))
    return unsupported(
      request.tool_choice !== undefined ? "tool_choice" : "function_call",
      "cannot be made to call a tool while it thinks (Anthropic API): use tool_choice auto or drop the reasoning",
    );
  if (request.response_format?.type === "json_schema" && !model.features.structured_output)
    return unsupported("response_format", "does not take json_schema (no structured_output capability)");

  const cap = requestedOutputCap(request);
  if (cap !== undefined && cap.value > model.max_tokens)
    return {
      kind: "invalid_request",
      field: cap.field,
      message: `${cap.field} ${cap.value} exceeds model '${name}' limit of ${model.max_tokens}`,
    };
  if (
    request.thinking?.type === "enabled" &&
    request.thinking.budget_tokens >= (cap?.value ?? model.max_tokens)
  )
    return {
      kind: "invalid_request",
      field: "thinking.budget_tokens",
      message: `thinking.budget_tokens ${request.thinking.budget_tokens} must be less than the output cap of ${cap?.value ?? model.max_tokens} tokens (${cap?.field ?? `model '${name}' max_tokens`})`,
    };
  return findContentMismatch(name, model.features, target.provider.provider_type, request.messages);
}

/**
 * The request as `model` is sent it: a setting that turns reasoning off is left out for a model
 * that does not reason (OpenAI refuses `reasoning_effort` on such a model, even `none`), so one
 * request can go to a reasoning model and to a fallback that is not one.
 */
export function withoutIdleReasoningSettings(request: CompleteChat, model: ModelEntry): CompleteChat {
  if (model.features.reasoning) return request;
  if (request.reasoning_effort === undefined && request.thinking === undefined) return request;
  const { reasoning_effort: _effort, thinking: _thinking, ...rest } = request;
  return rest;
}
