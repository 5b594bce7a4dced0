import type { ChatMessage, CompleteChat } from "@llm-provider/contracts";

/**
 * Rough prompt size for policy and rate-limit estimates before the provider has counted:
 * ~4 characters per token plus a few tokens of framing per message (OpenAI's rule of thumb).
 */
export function estimatePromptTokens(messages: readonly ChatMessage[]): number {
  let characters = 0;
  for (const message of messages) {
    characters += message.content?.length ?? 0;
    if (message.function_call) characters += message.function_call.arguments.length;
    if (message.tool_calls)
      for (const call of message.tool_calls) characters += call.function.arguments.length;
  }
  return Math.ceil(characters / 4) + messages.length * 4;
}

/**
 * What a chat call is counted with until its usage is known, by every budget (provider and
 * caller): the prompt estimate plus the most it may answer.
 */
export function estimateChatTokens(request: CompleteChat, modelMaxTokens: number): number {
  return estimatePromptTokens(request.messages) + (request.max_tokens ?? modelMaxTokens);
}
