import type Anthropic from "@anthropic-ai/sdk";
import { contentText } from "@llm-provider/contracts";
import type { ChatMessage, MessageContent } from "@llm-provider/contracts";
import { parseFunctionArguments } from "../parse-function-arguments.js";
import {
  convertContentBlocks,
  toCacheControl,
  type AnthropicContentBlock,
} from "./convert-to-anthropic-content.js";

type ContentBlock =
  | AnthropicContentBlock
  | Anthropic.ToolUseBlockParam
  | Anthropic.ToolResultBlockParam
  | Anthropic.ThinkingBlockParam
  | Anthropic.RedactedThinkingBlockParam;
type Turn = { role: "user" | "assistant"; content: ContentBlock[] } | Anthropic.SystemMessageParam;

export interface AnthropicPrompt {
  system: string | Anthropic.TextBlockParam[] | undefined;
  messages: Anthropic.MessageParam[];
  warnings: string[];
}

const isInstruction = (message: ChatMessage) => message.role === "system" || message.role === "developer";

/**
 * Neutral messages → Anthropic `system` + `messages`. Leading system (and developer) messages become
 * `system`; a later one stays where it is as a `system` turn (API version 2026-10-21 accepts them).
 * Tool and function results are `tool_result` blocks of a user turn, tool calls are `tool_use` blocks,
 * an assistant's signed thinking blocks go first in its turn, unchanged, and consecutive turns of one
 * role are merged as the API requires. Breakpoints (`cache_control` on parts, and on a message: its
 * last block) are sent only when `promptCaching`.
 */
export function convertToAnthropicMessages(
  messages: readonly ChatMessage[],
  promptCaching = false,
): AnthropicPrompt {
  const warnings = messages.flatMap((message, index) =>
    message.name !== undefined && message.role !== "function"
      ? [`messages[${index}].name is not supported by Anthropic and was not sent`]
      : [],
  );
  const leading = messages.findIndex((message) => !isInstruction(message));
  const systemCount = leading === -1 ? messages.length : leading;
  // The seed's legacy function calls carry no id: one is made per assistant message, and a
  // `function` result answers the latest call of its name.
  const legacyCallIds = new Map<string, string>();
  const turns: Turn[] = [];

  messages.slice(systemCount).forEach((message, offset) => {
    const index = systemCount + offset;
    switch (message.role) {
      case "system":
      case "developer":
        turns.push({ role: "system", content: systemContent([message], promptCaching) });
        return;
      case "user":
        return appendTurn(
          turns,
          "user",
          withBreakpoint(message, contentBlocks(message.content, promptCaching), promptCaching),
        );
      case "assistant":
        return appendTurn(
          turns,
          "assistant",
          assistantBlocks(message, index, legacyCallIds, promptCaching, warnings),
        );
      case "tool": {
        const result = toolResult(message.tool_call_id ?? "", message.content, promptCaching);
        return appendTurn(turns, "user", withBreakpoint(message, [result], promptCaching));
      }
      case "function": {
        const name = message.name ?? "";
        const id = legacyCallIds.get(name) ?? `call_legacy_${name}`;
        return appendTurn(
          turns,
          "user",
          withBreakpoint(message, [toolResult(id, contentText(message.content), false)], promptCaching),
        );
      }
    }
  });
  const system = systemCount > 0 ? systemContent(messages.slice(0, systemCount), promptCaching) : undefined;
  return { system, messages: turns, warnings };
}

/**
 * Instructions as one string (joined by blank lines), or as text blocks when a breakpoint must sit
 * on one of them: only a block carries `cache_control`.
 */
function systemContent(
  messages: readonly ChatMessage[],
  promptCaching: boolean,
): string | Anthropic.TextBlockParam[] {
  const needsBlocks =
    promptCaching &&
    messages.some(
      (message) =>
        message.cache_control !== undefined ||
        (Array.isArray(message.content) && message.content.some((part) => part.cache_control !== undefined)),
    );
  if (!needsBlocks) return messages.map((message) => contentText(message.content)).join("\n\n");
  // Instructions hold text parts only (the contract refuses others).
  return messages.flatMap((message) =>
    withBreakpoint(message, convertContentBlocks(message.content, true) as Anthropic.TextBlockParam[], true),
  );
}

function contentBlocks(content: MessageContent | null | undefined, promptCaching: boolean): CacheableBlock[] {
  return convertContentBlocks(content, promptCaching);
}

function assistantBlocks(
  message: ChatMessage,
  index: number,
  legacyCallIds: Map<string, string>,
  promptCaching: boolean,
  warnings: string[],
): ContentBlock[] {
  // Signed thinking goes back first and byte for byte: the API checks the signature and, when the
  // turn used tools, that the turn starts with it.
  const thinking: ContentBlock[] = (message.thinking_blocks ?? []).map((block) => ({ ...block }));
  const blocks: CacheableBlock[] = contentBlocks(message.content, promptCaching);
  for (const call of message.tool_calls ?? []) {
    blocks.push(toolUse(call.id, call.function.name, call.function.arguments, index, warnings));
  }
  if (message.function_call) {
    const id = `call_legacy_${index}`;
    legacyCallIds.set(message.function_call.name, id);
    blocks.push(toolUse(id, message.function_call.name, message.function_call.arguments, index, warnings));
  }
  // A thinking block takes no breakpoint: it goes on the last block after them.
  return [...thinking, ...withBreakpoint(message, blocks, promptCaching)];
}

/** Blocks that take a breakpoint: all but thinking. */
type CacheableBlock = Exclude<
  ContentBlock,
  Anthropic.ThinkingBlockParam | Anthropic.RedactedThinkingBlockParam
>;

/** The message's breakpoint on its last block. */
function withBreakpoint<T extends CacheableBlock>(
  message: ChatMessage,
  blocks: T[],
  promptCaching: boolean,
): T[] {
  const last = blocks.at(-1);
  if (promptCaching && message.cache_control && last)
    last.cache_control = toCacheControl(message.cache_control);
  return blocks;
}

/** A tool's answer: its text, or its parts (text, images, documents) as the result's blocks. */
function toolResult(
  toolUseId: string,
  content: MessageContent | null | undefined,
  promptCaching: boolean,
): Anthropic.ToolResultBlockParam {
  if (content === null || content === undefined || typeof content === "string")
    return { type: "tool_result", tool_use_id: toolUseId, content: content ?? "" };
  return {
    type: "tool_result",
    tool_use_id: toolUseId,
    content: convertContentBlocks(content, promptCaching),
  };
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
