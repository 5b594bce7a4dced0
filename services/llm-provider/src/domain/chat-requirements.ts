import type { CompleteChat } from "@llm-provider/contracts";
import type { ModelEntry } from "./catalog.js";

/** Why a model cannot take a chat request: which request field, and what is wrong. */
export interface Mismatch {
  field: string;
  message: string;
  /** `unsupported`: the model lacks a feature; `invalid_request`: the request asks too much. */
  kind: "unsupported" | "invalid_request";
}

/**
 * Whether `model` can serve `request`. Used for the requested model (the mismatch becomes the
 * caller's error) and for every fallback target (a mismatching one is skipped), so a fallback
 * never gets a request its model cannot take.
 */
export function findChatMismatch(
  model: ModelEntry,
  request: CompleteChat,
  streaming = false,
): Mismatch | undefined {
  if (!model.features.chat) {
    return {
      kind: "unsupported",
      field: "model",
      message: `model '${model.model_name}' does not support chat`,
    };
  }
  if (streaming && !model.features.streaming) {
    return {
      kind: "unsupported",
      field: "model",
      message: `model '${model.model_name}' does not support streaming`,
    };
  }
  if ((request.functions !== undefined || request.tools !== undefined) && !model.features.function_calling) {
    return {
      kind: "unsupported",
      field: request.tools !== undefined ? "tools" : "functions",
      message: `model '${model.model_name}' does not support function calling`,
    };
  }
  if (request.max_tokens !== undefined && request.max_tokens > model.max_tokens) {
    return {
      kind: "invalid_request",
      field: "max_tokens",
      message: `max_tokens ${request.max_tokens} exceeds model '${model.model_name}' limit of ${model.max_tokens}`,
    };
  }
  return undefined;
}
