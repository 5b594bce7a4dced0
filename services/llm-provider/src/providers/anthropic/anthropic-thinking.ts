import type Anthropic from "@anthropic-ai/sdk";
import type { CompleteChat } from "@llm-provider/contracts";

/** The smallest thinking budget the API takes. */
export const MIN_THINKING_BUDGET = 1_024;

/** reasoning_effort → thinking budget in tokens (`none` asks for no thinking). */
const BUDGET_BY_EFFORT: Record<Exclude<NonNullable<CompleteChat["reasoning_effort"]>, "none">, number> = {
  minimal: 1_024,
  low: 1_024,
  medium: 2_048,
  high: 4_096,
};

export interface AnthropicThinking {
  thinking?: Anthropic.ThinkingConfigParam;
  warnings: string[];
}

/**
 * The request's reasoning settings → Anthropic `thinking`. An explicit `thinking` goes as given (the
 * request checks already hold its budget under the cap). An effort's budget must stay under
 * `maxTokens`, which counts the thinking too: it is cut to `maxTokens - 1`, and when that is below the
 * API's minimum no thinking is asked for, with a warning.
 */
export function convertThinking(request: CompleteChat, maxTokens: number): AnthropicThinking {
  if (request.thinking !== undefined) return { thinking: { ...request.thinking }, warnings: [] };
  const effort = request.reasoning_effort;
  if (effort === undefined || effort === "none") return { warnings: [] };
  const budget = Math.min(BUDGET_BY_EFFORT[effort], maxTokens - 1);
  if (budget < MIN_THINKING_BUDGET)
    return {
      warnings: [
        `reasoning_effort '${effort}' was not sent: Anthropic needs a thinking budget of at least ` +
          `${MIN_THINKING_BUDGET} tokens below max_tokens, and max_tokens is ${maxTokens}`,
      ],
    };
  return { thinking: { type: "enabled", budget_tokens: budget }, warnings: [] };
}
