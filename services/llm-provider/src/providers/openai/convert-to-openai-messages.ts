import {
  contentText,
  type CacheControl,
  type ChatMessage,
  type ContentPart,
  type MessageContent,
} from "@llm-provider/contracts";
import type OpenAI from "openai";
import {
  convertToOpenAIPart,
  unmappable,
  type OpenAIContentPart,
  type OpenAITextPart,
} from "./convert-to-openai-content.js";
import type { OpenAIFlavour } from "./openai-flavour.js";

export type OpenAIMessage = OpenAI.Chat.Completions.ChatCompletionMessageParam;

/** How one request's messages are put on the wire. */
export interface MessageMapping {
  flavour: OpenAIFlavour;
  /** Send `cache_control` breakpoints (OpenRouter, a model that caches by breakpoint). */
  cacheBreakpoints: boolean;
  warnings: string[];
}

/**
 * Neutral messages → Chat Completions messages. `developer` stays `developer` on OpenAI's own API
 * and is `system` elsewhere. Breakpoints are carried only when `cacheBreakpoints` (a message's own
 * goes on its last text part, as OpenRouter documents them on text parts); otherwise dropped, as
 * OpenAI caches by itself. Thinking blocks and reasoning text are not sent back: this wire has no
 * field for them.
 */
export function convertToOpenAIMessages(
  messages: readonly ChatMessage[],
  mapping: MessageMapping,
): OpenAIMessage[] {
  return messages.map((message, index) => convertMessage(message, `messages[${index}]`, mapping));
}

function convertMessage(message: ChatMessage, where: string, mapping: MessageMapping): OpenAIMessage {
  const name = message.name !== undefined ? { name: message.name } : {};
  switch (message.role) {
    case "system":
    case "developer": {
      const role = message.role === "developer" && mapping.flavour.native ? "developer" : "system";
      return { role, content: textContent(message, where, mapping) ?? "", ...name };
    }
    case "user":
      return { role: "user", content: anyContent(message, where, mapping) ?? "", ...name };
    case "assistant":
      return {
        role: "assistant",
        content: textContent(message, where, mapping) ?? null,
        ...name,
        ...(message.function_call ? { function_call: message.function_call } : {}),
        ...(message.tool_calls ? { tool_calls: message.tool_calls } : {}),
      };
    case "tool":
      return {
        role: "tool",
        tool_call_id: message.tool_call_id ?? "",
        content: textContent(message, where, mapping) ?? "",
      };
    case "function":
      return { role: "function", name: message.name ?? "", content: contentText(message.content) };
  }
}

/** Content of a role that takes only text parts: anything else here is a bug and thrown. */
function textContent(
  message: ChatMessage,
  where: string,
  mapping: MessageMapping,
): string | OpenAITextPart[] | undefined {
  const content = anyContent(message, where, mapping);
  if (typeof content !== "object") return content;
  return content.map((part, index) => {
    if (part.type !== "text")
      throw unmappable(
        `${where}.content[${index}]`,
        `a ${part.type} part in a ${message.role} message`,
        mapping.flavour,
      );
    return part;
  });
}

function anyContent(
  message: ChatMessage,
  where: string,
  mapping: MessageMapping,
): string | OpenAIContentPart[] | undefined {
  const content: MessageContent | null | undefined = message.content;
  if (content === null || content === undefined) return undefined;
  if (!mapping.cacheBreakpoints) {
    if (typeof content === "string") return content;
    return content.map((part, index) =>
      convertToOpenAIPart(part, mapping.flavour, `${where}.content[${index}]`),
    );
  }
  const parts: OpenAIContentPart[] =
    typeof content === "string"
      ? [{ type: "text", text: content }]
      : content.map((part, index) => withBreakpoint(part, where, index, mapping));
  if (message.cache_control !== undefined) placeOnLastText(parts, message.cache_control, where, mapping);
  // A string without a breakpoint stays a string, as the caller sent it.
  return typeof content === "string" && message.cache_control === undefined ? content : parts;
}

function withBreakpoint(
  part: ContentPart,
  where: string,
  index: number,
  mapping: MessageMapping,
): OpenAIContentPart {
  const converted = convertToOpenAIPart(part, mapping.flavour, `${where}.content[${index}]`);
  if (part.cache_control === undefined) return converted;
  if (converted.type === "text") return { ...converted, cache_control: part.cache_control };
  mapping.warnings.push(
    `cache_control of ${where}.content[${index}] not sent: ${mapping.flavour.name} takes breakpoints on text parts only`,
  );
  return converted;
}

function placeOnLastText(
  parts: OpenAIContentPart[],
  cacheControl: CacheControl,
  where: string,
  mapping: MessageMapping,
): void {
  for (let index = parts.length - 1; index >= 0; index--) {
    const part = parts[index]!;
    if (part.type === "text") {
      parts[index] = { ...part, cache_control: cacheControl };
      return;
    }
  }
  mapping.warnings.push(
    `cache_control of ${where} not sent: ${mapping.flavour.name} takes breakpoints on text parts and the message has none`,
  );
}
