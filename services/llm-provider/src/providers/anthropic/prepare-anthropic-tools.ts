import type Anthropic from "@anthropic-ai/sdk";
import type { CompleteChat, FunctionDefinition } from "@llm-provider/contracts";

export interface AnthropicTools {
  tools?: Anthropic.Tool[];
  tool_choice?: Anthropic.ToolChoice;
}

/** `tools` and the seed's legacy `functions` (with `tool_choice` / `function_call`) → Anthropic tools. */
export function prepareAnthropicTools(request: CompleteChat): AnthropicTools {
  const definitions = [...(request.tools ?? []).map((tool) => tool.function), ...(request.functions ?? [])];
  if (definitions.length === 0) return {};
  const prepared: AnthropicTools = { tools: definitions.map(convertDefinition) };
  const choice = convertToolChoice(request);
  if (choice) prepared.tool_choice = choice;
  return prepared;
}

function convertDefinition(definition: FunctionDefinition): Anthropic.Tool {
  const tool: Anthropic.Tool = {
    name: definition.name,
    // Anthropic requires an object schema; a function without parameters takes none.
    input_schema: { type: "object", properties: {}, ...definition.parameters },
  };
  if (definition.description !== undefined) tool.description = definition.description;
  if (definition.strict !== undefined) tool.strict = definition.strict;
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
