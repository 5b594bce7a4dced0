import type { ChatMessage } from "@llm-provider/contracts";
import { parseFunctionArguments } from "../parse-function-arguments.js";

export interface OllamaMessage {
  role: "system" | "user" | "assistant" | "tool";
  content: string;
  tool_calls?: { function: { name: string; arguments: Record<string, unknown> } }[];
  /** Which function a `tool` message answers. */
  tool_name?: string;
}

/**
 * Neutral messages → Ollama `messages`. Tool calls carry their arguments as objects; a tool or
 * function result is a `tool` message naming the function it answers (Ollama links by name).
 */
export function convertToOllamaMessages(
  messages: readonly ChatMessage[],
  warnings: string[],
): OllamaMessage[] {
  return messages.map((_message, index) => convertMessage(messages, index, warnings));
}

function convertMessage(messages: readonly ChatMessage[], index: number, warnings: string[]): OllamaMessage {
  const message = messages[index]!;
  const content = message.content ?? "";
  switch (message.role) {
    case "system":
    case "user":
      if (message.name !== undefined) warnings.push(`messages[${index}].name is not supported by Ollama`);
      return { role: message.role, content };
    case "assistant": {
      if (message.name !== undefined) warnings.push(`messages[${index}].name is not supported by Ollama`);
      const calls = [...(message.tool_calls ?? []).map((call) => call.function)];
      if (message.function_call) calls.push(message.function_call);
      if (calls.length === 0) return { role: "assistant", content };
      const toolCalls = calls.map((call) => ({
        function: { name: call.name, arguments: parseFunctionArguments(call.arguments, index, warnings) },
      }));
      return { role: "assistant", content, tool_calls: toolCalls };
    }
    case "tool": {
      const name = findToolCallName(messages, index, message.tool_call_id);
      return name === undefined ? { role: "tool", content } : { role: "tool", content, tool_name: name };
    }
    case "function":
      return { role: "tool", content, tool_name: message.name ?? "" };
  }
}

/** Ollama matches a result to its call by function name: the name of the call with this id. */
function findToolCallName(messages: readonly ChatMessage[], before: number, id: string | undefined) {
  for (let index = before - 1; index >= 0; index--) {
    const call = messages[index]!.tool_calls?.find((candidate) => candidate.id === id);
    if (call) return call.function.name;
  }
  return undefined;
}
