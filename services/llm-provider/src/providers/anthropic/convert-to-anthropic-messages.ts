import type Anthropic from "@anthropic-ai/sdk";
import type { ChatMessage } from "@llm-provider/contracts";
import { parseFunctionArguments } from "../parse-function-arguments.js";

type ContentBlock = Anthropic.TextBlockParam | Anthropic.ToolUseBlockParam | Anthropic.ToolResultBlockParam;
type Turn = { role: "user" | "assistant"; content: ContentBlock[] } | Anthropic.SystemMessageParam;

export interface AnthropicPrompt {
  system: string | undefined;
  messages: Anthropic.MessageParam[];
  warnings: string[];
}

/**
 * Neutral messages → Anthropic `system` + `messages`. Leading system messages become `system`;
 * a later one stays where it is as a `system` turn (API version 2026-10-21 accepts them). Tool and
 * function results are `tool_result` blocks of a user turn, tool calls are `tool_use` blocks, and
 * consecutive turns of one role are merged as the API requires.
 */
export function convertToAnthropicMessages(messages: readonly ChatMessage[]): AnthropicPrompt {
  const warnings = messages.flatMap((message, index) =>
    message.name !== undefined && message.role !== "function"
      ? [`messages[${index}].name is not supported by Anthropic and was not sent`]
      : [],
  );
  const leading = messages.findIndex((message) => message.role !== "system");
  const systemCount = leading === -1 ? messages.length : leading;
  const systemText = messages
    .slice(0, systemCount)
    .map((message) => message.content ?? "")
    .join("\n\n");
  // The seed's legacy function calls carry no id: one is made per assistant message, and a
  // `function` result answers the latest call of its name.
  const legacyCallIds = new Map<string, string>();
  const turns: Turn[] = [];

  messages.slice(systemCount).forEach((message, offset) => {
    const index = systemCount + offset;
    switch (message.role) {
      case "system":
        turns.push({ role: "system", content: message.content ?? "" });
        return;
      case "user":
        return appendTurn(turns, "user", textBlocks(message.content));
      case "assistant": {
        const blocks: ContentBlock[] = textBlocks(message.content);
        for (const call of message.tool_calls ?? []) {
          blocks.push(toolUse(call.id, call.function.name, call.function.arguments, index, warnings));
        }
        if (message.function_call) {
          const id = `call_legacy_${index}`;
          legacyCallIds.set(message.function_call.name, id);
          blocks.push(
            toolUse(id, message.function_call.name, message.function_call.arguments, index, warnings),
          );
        }
        return appendTurn(turns, "assistant", blocks);
      }
      case "tool":
        return appendTurn(turns, "user", [toolResult(message.tool_call_id ?? "", message.content)]);
      case "function": {
        const name = message.name ?? "";
        const id = legacyCallIds.get(name) ?? `call_legacy_${name}`;
        return appendTurn(turns, "user", [toolResult(id, message.content)]);
      }
    }
  });
  return { system: systemCount > 0 ? systemText : undefined, messages: turns, warnings };
}

function textBlocks(content: string | null | undefined): ContentBlock[] {
  // The API refuses empty text blocks.
  return content ? [{ type: "text", text: content }] : [];
}

function toolResult(toolUseId: string, content: string | null | undefined): Anthropic.ToolResultBlockParam {
  return { type: "tool_result", tool_use_id: toolUseId, content: content ?? "" };
}

function toolUse(
  id: string,
  name: string,
  argumentsJson: string,
  index: number,
  warnings: string[],
): Anthropic.ToolUseBlockParam {
  return { type: "tool_use", id, name, input: parseFunctionArguments(argumentsJson, index, warnings) };
}

function appendTurn(turns: Turn[], role: "user" | "assistant", blocks: ContentBlock[]): void {
  const last = turns.at(-1);
  if (last && last.role === role && typeof last.content !== "string") {
    last.content.push(...blocks);
    // In a user turn the API wants every tool_result before any text.
    if (role === "user") last.content.sort((a, b) => resultFirst(a) - resultFirst(b));
    return;
  }
  turns.push({ role, content: blocks });
}

function resultFirst(block: ContentBlock): number {
  return block.type === "tool_result" ? 0 : 1;
}
