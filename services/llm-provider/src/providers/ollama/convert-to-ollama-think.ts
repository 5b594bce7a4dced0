import type { CompleteChat } from "@llm-provider/contracts";

/** Ollama's `think`: on/off, or a level for the models that take one (gpt-oss). */
export type OllamaThink = boolean | "low" | "medium" | "high";

/**
 * The request's reasoning setting → Ollama's `think`, or undefined to leave the model's default
 * (Ollama thinks by default on a thinking model). Efforts turn thinking on; gpt-oss takes the
 * level itself and knows no "minimal", its lowest being "low". Ollama has no token budget: a
 * `budget_tokens` is reported in `warnings`.
 */
export function convertToOllamaThink(
  upstreamModel: string,
  request: CompleteChat,
  warnings: string[],
): OllamaThink | undefined {
  const { reasoning_effort: effort, thinking } = request;
  if (thinking !== undefined) {
    if (thinking.type === "disabled") return false;
    warnings.push(
      `thinking.budget_tokens is not supported by Ollama; the model thinks without a budget (${thinking.budget_tokens} asked)`,
    );
    return true;
  }
  if (effort === undefined) return undefined;
  if (effort === "none") return false;
  if (!takesThinkLevel(upstreamModel)) return true;
  return effort === "minimal" ? "low" : effort;
}

/** gpt-oss is told how much to reason by level name (low/medium/high), not only on or off. */
function takesThinkLevel(upstreamModel: string): boolean {
  return upstreamModel.startsWith("gpt-oss");
}
