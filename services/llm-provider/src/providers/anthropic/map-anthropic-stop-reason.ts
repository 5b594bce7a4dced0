import type { FinishReason } from "@llm-provider/contracts";

/** Anthropic stop_reason → neutral; an unknown or missing value reads as a normal stop (raw value kept). */
export function mapAnthropicStopReason(raw: string | null | undefined): FinishReason {
  switch (raw) {
    // model_context_window_exceeded: the answer was cut because the context filled up, like max_tokens.
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length";
    case "tool_use":
      return "function_call";
    case "refusal":
      return "content_filter";
    default:
      return "stop";
  }
}
