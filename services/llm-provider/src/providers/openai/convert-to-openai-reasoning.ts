import type { CompleteChat } from "@llm-provider/contracts";
import { requestedOutputCap } from "../../domain/chat-requirements.js";
import type { OpenAIFlavour } from "./openai-flavour.js";

type Effort = NonNullable<CompleteChat["reasoning_effort"]>;

/** The body fields that say how long and how hard the model may think. */
export interface OpenAIReasoningFields {
  max_tokens?: number;
  /** OpenAI's name for the cap, reasoning included; GPT-5 and the o-series refuse `max_tokens`. */
  max_completion_tokens?: number;
  reasoning_effort?: Effort;
  /** OpenRouter's reasoning object: one of effort or max_tokens. */
  reasoning?: { effort: Effort } | { max_tokens: number };
}

/**
 * The output cap and the reasoning setting, in the flavour's words. OpenRouter takes a thinking
 * budget as `reasoning.max_tokens` and turns reasoning off with effort "none"; the others know only
 * an effort, so a budget is sent as the nearest one and said so in `warnings`.
 */
export function convertToOpenAIReasoning(
  request: CompleteChat,
  flavour: OpenAIFlavour,
  warnings: string[],
): OpenAIReasoningFields {
  const fields: OpenAIReasoningFields = {};
  const cap = requestedOutputCap(request);
  if (cap !== undefined) {
    if (flavour.native) fields.max_completion_tokens = cap.value;
    else fields.max_tokens = cap.value;
  }
  const { reasoning_effort: effort, thinking } = request;
  if (flavour.openRouter) {
    if (effort !== undefined) fields.reasoning = { effort };
    else if (thinking?.type === "enabled") fields.reasoning = { max_tokens: thinking.budget_tokens };
    else if (thinking?.type === "disabled") fields.reasoning = { effort: "none" };
    return fields;
  }
  if (effort !== undefined) fields.reasoning_effort = effort;
  else if (thinking?.type === "enabled") {
    const nearest = nearestEffort(thinking.budget_tokens);
    fields.reasoning_effort = nearest;
    warnings.push(
      `thinking.budget_tokens is not supported by ${flavour.name}; sent as reasoning_effort "${nearest}", ` +
        `the nearest effort to ${thinking.budget_tokens} tokens`,
    );
  }
  // thinking disabled: no field; models that cannot stop reasoning refuse "none".
  return fields;
}

/**
 * The inverse of the budgets efforts stand for on Anthropic (low 1,024, medium 2,048, high 4,096
 * tokens): the effort whose budget is nearest.
 */
function nearestEffort(budgetTokens: number): Effort {
  if (budgetTokens < 1_536) return "low";
  if (budgetTokens < 3_072) return "medium";
  return "high";
}
