import type { FunctionCall, ToolCall } from "@llm-provider/contracts";
import type { ChatDelta, ChatOutcome } from "../ports/provider-client.js";
import type { StreamEnd } from "./consume-chat-stream.js";

/**
 * Puts a streamed answer back together as the outcome a non-streamed call gives: the text, tool
 * calls (their pieces joined by index) and a legacy function call. `complete_chat` reads streaming
 * models this way so that first-byte and idle limits apply to it as they do to `stream_chat`.
 */
export function createChatAnswerAssembler(): {
  add(delta: ChatDelta): void;
  outcome(end: StreamEnd): ChatOutcome;
} {
  let content: string | null = null;
  let reasoning: string | undefined;
  const toolCalls = new Map<number, { id: string; name: string; arguments: string }>();
  let functionCall: { name: string; arguments: string } | undefined;
  return {
    add(delta) {
      if (delta.content !== undefined) content = (content ?? "") + delta.content;
      if (delta.reasoning !== undefined) reasoning = (reasoning ?? "") + delta.reasoning;
      for (const piece of delta.toolCalls ?? []) {
        const call = toolCalls.get(piece.index) ?? { id: "", name: "", arguments: "" };
        if (piece.id) call.id = piece.id;
        if (piece.function?.name) call.name += piece.function.name;
        if (piece.function?.arguments) call.arguments += piece.function.arguments;
        toolCalls.set(piece.index, call);
      }
      if (delta.functionCall) {
        functionCall ??= { name: "", arguments: "" };
        functionCall.name += delta.functionCall.name ?? "";
        functionCall.arguments += delta.functionCall.arguments ?? "";
      }
    },
    outcome(end) {
      const outcome: ChatOutcome = { ...end, content };
      if (reasoning !== undefined) outcome.reasoning = reasoning;
      if (toolCalls.size > 0) {
        outcome.toolCalls = [...toolCalls.entries()]
          .sort(([a], [b]) => a - b)
          .map(([, call]): ToolCall => ({
            id: call.id,
            type: "function",
            function: { name: call.name, arguments: call.arguments },
          }));
      }
      if (functionCall) outcome.functionCall = functionCall satisfies FunctionCall;
      return outcome;
    },
  };
}
