import type { CompleteChat, FunctionDefinition } from "@llm-provider/contracts";
import { convertToOllamaMessages, type OllamaMessage } from "./convert-to-ollama-messages.js";

/** The `/api/chat` request body, as far as we send it. */
export interface OllamaChatRequest {
  model: string;
  messages: OllamaMessage[];
  /** False: one JSON answer. `streamChat` sends the same body with `true` (NDJSON lines). */
  stream: false;
  tools?: { type: "function"; function: { name: string; description?: string; parameters: object } }[];
  format?: "json" | Record<string, unknown>;
  options?: OllamaOptions;
}

interface OllamaOptions {
  temperature?: number;
  top_p?: number;
  num_predict?: number;
  stop?: string[];
  seed?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
}

/** Neutral CompleteChat → Ollama `/api/chat` body, and the settings Ollama cannot honour. */
export function convertToOllamaChatRequest(
  upstreamModel: string,
  request: CompleteChat,
): { body: OllamaChatRequest; warnings: string[] } {
  const warnings: string[] = [];
  const body: OllamaChatRequest = {
    model: upstreamModel,
    messages: convertToOllamaMessages(request.messages, warnings),
    stream: false,
  };
  const options = convertOptions(request);
  if (Object.keys(options).length > 0) body.options = options;

  const format = request.response_format;
  if (format?.type === "json_object") body.format = "json";
  if (format?.type === "json_schema") body.format = format.json_schema.schema ?? {};

  const choice = request.tool_choice ?? request.function_call;
  const definitions = [...(request.tools ?? []).map((tool) => tool.function), ...(request.functions ?? [])];
  // Ollama has no tool choice: "none" is honoured by not offering the tools at all.
  if (definitions.length > 0 && choice !== "none")
    body.tools = definitions.map((d) => convertDefinition(d, warnings));
  if (choice !== undefined && choice !== "auto" && choice !== "none") {
    warnings.push(
      "forcing a tool call (tool_choice / function_call) is not supported by Ollama; the model decides",
    );
  }
  if (request.user !== undefined) warnings.push("user is not supported by Ollama and was not sent");
  return { body, warnings };
}

function convertOptions(request: CompleteChat): OllamaOptions {
  const options: OllamaOptions = {};
  if (request.temperature !== undefined) options.temperature = request.temperature;
  if (request.top_p !== undefined) options.top_p = request.top_p;
  if (request.max_tokens !== undefined) options.num_predict = request.max_tokens;
  if (request.stop !== undefined)
    options.stop = typeof request.stop === "string" ? [request.stop] : request.stop;
  if (request.seed !== undefined) options.seed = request.seed;
  if (request.presence_penalty !== undefined) options.presence_penalty = request.presence_penalty;
  if (request.frequency_penalty !== undefined) options.frequency_penalty = request.frequency_penalty;
  return options;
}

function convertDefinition(definition: FunctionDefinition, warnings: string[]) {
  if (definition.strict)
    warnings.push(`strict schema of function '${definition.name}' is not enforced by Ollama`);
  return {
    type: "function" as const,
    function: {
      name: definition.name,
      ...(definition.description !== undefined ? { description: definition.description } : {}),
      parameters: definition.parameters ?? { type: "object", properties: {} },
    },
  };
}
