// A chat answer as a caller puts it together, the same shape whether it asked complete_chat or
// stream_chat: the tests of one behaviour run once per subject and compare the same fields.
import type {
  ChatCompletion,
  CompleteChatInput,
  LlmProviderClient,
  ThinkingBlock,
  ToolCall,
} from "@llm-provider/contracts";

export type ChatMode = "complete_chat" | "stream_chat";
export const CHAT_MODES: ChatMode[] = ["complete_chat", "stream_chat"];

export interface ChatAnswer {
  content: string | null;
  reasoning: string | undefined;
  /** Stream chunks that carried reasoning (0 for complete_chat). */
  reasoningChunks: number;
  toolCalls: ToolCall[] | undefined;
  thinkingBlocks: ThinkingBlock[] | undefined;
  usage: ChatCompletion["usage"];
}

export async function askChat(
  client: LlmProviderClient,
  mode: ChatMode,
  request: CompleteChatInput,
): Promise<ChatAnswer> {
  if (mode === "complete_chat") {
    const reply = await client.completeChat(request);
    return {
      content: reply.content,
      reasoning: reply.reasoning_content,
      reasoningChunks: 0,
      toolCalls: reply.tool_calls,
      thinkingBlocks: reply.thinking_blocks,
      usage: reply.usage,
    };
  }
  const stream = client.streamChat(request);
  const calls: ToolCall[] = [];
  let reasoningChunks = 0;
  for await (const message of stream) {
    if (message.type !== "chunk") continue;
    if (message.delta.reasoning_content !== undefined) reasoningChunks++;
    for (const piece of message.delta.tool_calls ?? []) {
      const call = (calls[piece.index] ??= {
        id: "",
        type: "function",
        function: { name: "", arguments: "" },
      });
      if (piece.id) call.id = piece.id;
      call.function.name += piece.function?.name ?? "";
      call.function.arguments += piece.function?.arguments ?? "";
    }
  }
  const done = await stream.done;
  return {
    content: done.content,
    reasoning: done.reasoning_content,
    reasoningChunks,
    toolCalls: calls.length > 0 ? calls : undefined,
    thinkingBlocks: done.thinking_blocks,
    usage: done.usage,
  };
}
