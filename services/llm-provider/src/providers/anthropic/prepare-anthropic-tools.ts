import type Anthropic from "@anthropic-ai/sdk";
import type { CompleteChat, FunctionDefinition } from "@llm-provider/contracts";
import { toCacheControl } from "./convert-to-anthropic-content.js";

export interface AnthropicTools {
  tools?: Anthropic.Tool[];
  tool_choice?: Anthropic.ToolChoice;
}

/**
 * `tools` and the seed's legacy `functions` (with `tool_choice` / `function_call`) → Anthropic tools.
 * A tool's breakpoint goes on its definition (when `promptCaching`); `parallel_tool_calls: false` is
 * the choice's `disable_parallel_tool_use` (on `auto` when the request names no choice).
 */
export function prepareAnthropicTools(request: CompleteChat, promptCaching = false): AnthropicTools {
  const tools = [
    ...(request.tools ?? []).map((tool) =>
      convertDefinition(tool.function, promptCaching ? tool.cache_control : undefined),
    ),
    ...(request.functions ?? []).map((definition) => convertDefinition(definition, undefined)),
  ];
  if (tools.length === 0) return {};
  const prepared: AnthropicTools = { tools };
  let choice = convertToolChoice(request);
  if (request.parallel_tool_calls === false) {
    choice ??= { type: "auto" };
    // `none` makes no calls at all, so there is nothing to keep from running in parallel.
    if (choice.type !== "none") choice.disable_parallel_tool_use = true;
  }
  if (choice) prepared.tool_choice = choice;
  return prepared;
}

function convertDefinition(
  definition: FunctionDefinition,
  cacheControl: Parameters<typeof toCacheControl>[0] | undefined,
): Anthropic.Tool {
  const tool: Anthropic.Tool = {
    name: definition.name,
    // Anthropic requires an object schema; a function without parameters takes none.
    input_schema: { type: "object", properties: {}, ...definition.parameters },
  };
  if (definition.description !== undefined) tool.description = definition.description;
  if (definition.strict !== undefined) tool.strict = definition.strict;
  if (cacheControl !== undefined) tool.cache_control = toCacheControl(cacheControl);
  return tool;
}

function convertToolChoice(request: CompleteChat): Anthropic.ToolChoice | undefined {
  const choice = request.tool_choice ?? request.function_call;
  if (choice === undefined) return undefined;
  if (choice === "auto") return { type: "auto" };
  if (choice === "none") return { type: "none" };
  if (choice === "required") return { type: "any" };
  return { type: "tool", name: "function" in choice ? choice.function.name : choice.name };
}
