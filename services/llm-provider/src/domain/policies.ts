import { POLICIES } from "@llm-provider/contracts";
import type { ChatMessage, PolicyId } from "@llm-provider/contracts";

/** A broken policy rule: which one, where, and why. */
export interface PolicyViolation {
  policy: PolicyId;
  field: string;
  message: string;
}

/** POL-LLM-001 ProviderHasName. */
export function checkProviderHasName(
  provider: { id: string; name?: string | undefined },
  field: string,
): PolicyViolation | undefined {
  if (provider.name !== undefined && provider.name.trim() !== "") return undefined;
  return {
    policy: POLICIES.providerHasName,
    field: `${field}.name`,
    message: `provider '${provider.id}' must have a name`,
  };
}

/** POL-LLM-002 ModelHasPositiveMaxTokens. */
export function checkModelHasPositiveMaxTokens(
  model: { model_name: string; max_tokens: number },
  field: string,
): PolicyViolation | undefined {
  if (Number.isInteger(model.max_tokens) && model.max_tokens > 0) return undefined;
  return {
    policy: POLICIES.modelHasPositiveMaxTokens,
    field: `${field}.max_tokens`,
    message: `model '${model.model_name}' must define a positive max_tokens (got ${model.max_tokens})`,
  };
}

/**
 * POL-LLM-003 MessagesNonEmpty: at least one message, and every message carries something —
 * text, an image or file part, a function call or tool calls.
 */
export function checkMessagesNonEmpty(messages: readonly ChatMessage[]): PolicyViolation | undefined {
  if (messages.length === 0) {
    return { policy: POLICIES.messagesNonEmpty, field: "messages", message: "messages must not be empty" };
  }
  for (let index = 0; index < messages.length; index++) {
    const message = messages[index]!;
    const hasText =
      typeof message.content === "string"
        ? message.content.trim() !== ""
        : (message.content ?? []).some((part) => part.type !== "text" || part.text.trim() !== "");
    if (hasText || message.function_call !== undefined || message.tool_calls !== undefined) continue;
    return {
      policy: POLICIES.messagesNonEmpty,
      field: `messages[${index}].content`,
      message: `messages[${index}] (${message.role}) has no content`,
    };
  }
  return undefined;
}

/** POL-LLM-004 EmbeddingInputNonEmpty: the input, and every item of a batch, has text. */
export function checkEmbeddingInputNonEmpty(input: string | readonly string[]): PolicyViolation | undefined {
  if (typeof input === "string") {
    return input.trim() === ""
      ? { policy: POLICIES.embeddingInputNonEmpty, field: "input", message: "input must not be empty" }
      : undefined;
  }
  if (input.length === 0) {
    return { policy: POLICIES.embeddingInputNonEmpty, field: "input", message: "input must not be empty" };
  }
  const emptyIndex = input.findIndex((item) => item.trim() === "");
  if (emptyIndex === -1) return undefined;
  return {
    policy: POLICIES.embeddingInputNonEmpty,
    field: `input[${emptyIndex}]`,
    message: `input[${emptyIndex}] must not be empty`,
  };
}

/** POL-LLM-005 GatewayBypassOnlyInDev. */
export function checkGatewayBypassOnlyInDev(
  environment: "development" | "production",
  bypass: boolean,
): PolicyViolation | undefined {
  if (!bypass || environment === "development") return undefined;
  return {
    policy: POLICIES.gatewayBypassOnlyInDev,
    field: "policy_gateway.bypass",
    message: `policy gateway bypass is only allowed in development (environment is '${environment}')`,
  };
}
