import type { FinishReason } from "@llm-provider/contracts";

/** OpenAI finish_reason → neutral; an unknown or missing value reads as a normal stop (raw value kept). */
export function mapOpenAIFinishReason(raw: string | null | undefined): FinishReason {
  switch (raw) {
    case "length":
      return "length";
    case "content_filter":
      return "content_filter";
    case "function_call":
    case "tool_calls":
      return "function_call";
    default:
      return "stop";
  }
}
