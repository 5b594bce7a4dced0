import { base64ByteLength, parseDataUrl } from "@llm-provider/contracts";
import type { ChatMessage, CompleteChat, ContentPart } from "@llm-provider/contracts";

/** Counted for an image before the provider has: Anthropic's ceiling for one image (~1.15 megapixels). */
const IMAGE_TOKEN_ESTIMATE = 1_600;
/** Counted for a file the provider fetches by URL, whose size is unknown here: a few PDF pages. */
const FETCHED_FILE_TOKEN_ESTIMATE = 6_000;

/**
 * Rough prompt size for policy and rate-limit estimates before the provider has counted:
 * ~4 characters (or bytes of a file) per token plus a few tokens of framing per message (OpenAI's
 * rule of thumb), a fixed count per image.
 */
export function estimatePromptTokens(messages: readonly ChatMessage[]): number {
  let characters = 0;
  let mediaTokens = 0;
  for (const message of messages) {
    if (typeof message.content === "string") characters += message.content.length;
    else if (message.content)
      for (const part of message.content) {
        if (part.type === "text") characters += part.text.length;
        else mediaTokens += mediaTokenEstimate(part);
      }
    if (message.function_call) characters += message.function_call.arguments.length;
    if (message.tool_calls)
      for (const call of message.tool_calls) characters += call.function.arguments.length;
  }
  return Math.ceil(characters / 4) + mediaTokens + messages.length * 4;
}

function mediaTokenEstimate(part: Exclude<ContentPart, { type: "text" }>): number {
  if (part.type === "image_url") return IMAGE_TOKEN_ESTIMATE;
  const data = part.file.file_data === undefined ? undefined : parseDataUrl(part.file.file_data);
  return data ? Math.ceil(base64ByteLength(data.base64) / 4) : FETCHED_FILE_TOKEN_ESTIMATE;
}

/**
 * What a chat call is counted with until its usage is known, by every budget (provider and
 * caller): the prompt estimate plus the most it may answer.
 */
export function estimateChatTokens(request: CompleteChat, modelMaxTokens: number): number {
  return (
    estimatePromptTokens(request.messages) +
    (request.max_tokens ?? request.max_completion_tokens ?? modelMaxTokens)
  );
}
