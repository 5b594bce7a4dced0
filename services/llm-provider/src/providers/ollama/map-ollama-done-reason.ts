import type { FinishReason } from "@llm-provider/contracts";

/**
 * Ollama done_reason → neutral. Ollama says "stop" also when the model called tools, so the
 * caller passes whether it did. Unknown or missing values (e.g. "load") read as a normal stop.
 */
export function mapOllamaDoneReason(raw: string | null | undefined, hasToolCalls: boolean): FinishReason {
  if (raw === "length") return "length";
  return hasToolCalls ? "function_call" : "stop";
}
