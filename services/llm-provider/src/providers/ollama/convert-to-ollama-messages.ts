import type { ChatMessage } from "@llm-provider/contracts";
import { parseFunctionArguments } from "../parse-function-arguments.js";
import { convertToOllamaContent } from "./convert-to-ollama-content.js";

export interface OllamaMessage {
  role: "system" | "user" | "assistant" | "tool";
  content: string;
  /** Raw base64 images (no `data:` prefix), for vision models. */
  images?: string[];
  /** An assistant turn's reasoning, sent back so a thinking model continues from it. */
  thinking?: string;
  tool_calls?: { function: { name: string; arguments: Record<string, unknown> } }[];
  /** Which function a `tool` message answers. */
  tool_name?: string;
}

/**
 * Neutral messages → Ollama `messages`. `developer` is sent as `system` (Ollama has no such role).
 * Tool calls carry their arguments as objects; a tool or function result is a `tool` message
 * naming the function it answers (Ollama links by name). `cache_control` has no Ollama meaning and
 * is not sent.
 */
export function convertToOllamaMessages(
  messages: readonly ChatMessage[],
  warnings: string[],
): OllamaMessage[] {
  return messages.map((_message, index) => convertMessage(messages, index, warnings));
}

function convertMessage(messages: readonly ChatMessage[], index: number, warnings: string[]): OllamaMessage {
  const message = messages[index]!;
  const { content, images } = convertToOllamaContent(message.content, `messages[${index}]`);
  const withImages = (converted: OllamaMessage): OllamaMessage =>
    images.length > 0 ? { ...converted, images } : converted;
  switch (message.role) {
    case "system":
    case "developer":
    case "user":
      if (message.name !== undefined) warnings.push(`messages[${index}].name is not supported by Ollama`);
      return withImages({ role: message.role === "developer" ? "system" : message.role, content });
    case "assistant":
      return convertAssistant(message, index, content, warnings);
    case "tool": {
      const name = findToolCallName(messages, index, message.tool_call_id);
      return withImages(
        name === undefined ? { role: "tool", content } : { role: "tool", content, tool_name: name },
      );
    }
    case "function":
      return { role: "tool", content, tool_name: message.name ?? "" };
  }
}

function convertAssistant(
  message: ChatMessage,
  index: number,
  content: string,
  warnings: string[],
): OllamaMessage {
  if (message.name !== undefined) warnings.push(`messages[${index}].name is not supported by Ollama`);
  const converted: OllamaMessage = { role: "assistant", content };
  if (message.reasoning_content !== undefined && message.reasoning_content !== "")
    converted.thinking = message.reasoning_content;
  if (message.thinking_blocks !== undefined)
    warnings.push(
      `messages[${index}].thinking_blocks are Anthropic's signed reasoning and not sent to Ollama`,
    );
  const calls = [...(message.tool_calls ?? []).map((call) => call.function)];
  if (message.function_call) calls.push(message.function_call);
  if (calls.length > 0)
    converted.tool_calls = calls.map((call) => ({
      function: { name: call.name, arguments: parseFunctionArguments(call.arguments, index, warnings) },
    }));
  return converted;
}

/** Ollama matches a result to its call by function name: the name of the call with this id. */
function findToolCallName(messages: readonly ChatMessage[], before: number, id: string | undefined) {
  for (let index = before - 1; index >= 0; index--) {
    const call = messages[index]!.tool_calls?.find((candidate) => candidate.id === id);
    if (call) return call.function.name;
  }
  return undefined;
}
