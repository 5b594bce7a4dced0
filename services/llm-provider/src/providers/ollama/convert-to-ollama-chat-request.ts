import type { CompleteChat, FunctionDefinition } from "@llm-provider/contracts";
import { requestedOutputCap } from "../../domain/chat-requirements.js";
import type { ChatCall } from "../../ports/provider-client.js";
import { convertToOllamaMessages, type OllamaMessage } from "./convert-to-ollama-messages.js";
import { convertToOllamaThink, type OllamaThink } from "./convert-to-ollama-think.js";

/** The `/api/chat` request body, as far as we send it. */
export interface OllamaChatRequest {
  model: string;
  messages: OllamaMessage[];
  /** False: one JSON answer. `streamChat` sends the same body with `true` (NDJSON lines). */
  stream: false;
  tools?: { type: "function"; function: { name: string; description?: string; parameters: object } }[];
  format?: "json" | Record<string, unknown>;
  think?: OllamaThink;
  options?: OllamaOptions;
  /** How long Ollama keeps the model loaded after this call: a duration ("5m") or seconds. */
  keep_alive?: string | number;
}

interface OllamaOptions {
  temperature?: number;
  top_p?: number;
  num_predict?: number;
  /** The context length the model runs with; unset, Ollama runs it with a 2–4k default. */
  num_ctx?: number;
  stop?: string[];
  seed?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
}

/** Neutral CompleteChat → Ollama `/api/chat` body, and the settings Ollama cannot honour. */
export function convertToOllamaChatRequest(
  upstreamModel: string,
  request: CompleteChat,
  run?: ChatCall["ollama"],
): { body: OllamaChatRequest; warnings: string[] } {
  const warnings: string[] = [];
  const body: OllamaChatRequest = {
    model: upstreamModel,
    messages: convertToOllamaMessages(request.messages, warnings),
    stream: false,
  };
  const think = convertToOllamaThink(upstreamModel, request, warnings);
  if (think !== undefined) body.think = think;
  const options = convertOptions(request, run);
  if (Object.keys(options).length > 0) body.options = options;
  if (run?.keepAlive !== undefined) body.keep_alive = keepAliveValue(run.keepAlive);

  const format = request.response_format;
  if (format?.type === "json_object") body.format = "json";
  if (format?.type === "json_schema") body.format = format.json_schema.schema ?? {};

  const tools = convertTools(request, warnings);
  if (tools !== undefined) body.tools = tools;
  warnings.push(...unsupportedSettings(request));
  return { body, warnings };
}

/**
 * Ollama reads a number as seconds and a string as a Go duration, which needs a unit: "-1" or
 * "300" as a string would be refused, so a unitless value goes as the number it means.
 */
function keepAliveValue(keepAlive: string | number): string | number {
  return typeof keepAlive === "string" && /^-?\d+$/.test(keepAlive) ? Number(keepAlive) : keepAlive;
}

function convertOptions(request: CompleteChat, run: ChatCall["ollama"]): OllamaOptions {
  const options: OllamaOptions = {};
  if (request.temperature !== undefined) options.temperature = request.temperature;
  if (request.top_p !== undefined) options.top_p = request.top_p;
  const cap = requestedOutputCap(request);
  if (cap !== undefined) options.num_predict = cap.value;
  if (run !== undefined) options.num_ctx = run.numCtx;
  if (request.stop !== undefined)
    options.stop = typeof request.stop === "string" ? [request.stop] : request.stop;
  if (request.seed !== undefined) options.seed = request.seed;
  if (request.presence_penalty !== undefined) options.presence_penalty = request.presence_penalty;
  if (request.frequency_penalty !== undefined) options.frequency_penalty = request.frequency_penalty;
  return options;
}

function convertTools(request: CompleteChat, warnings: string[]): OllamaChatRequest["tools"] {
  const choice = request.tool_choice ?? request.function_call;
  const definitions = [...(request.tools ?? []).map((tool) => tool.function), ...(request.functions ?? [])];
  // Ollama has no tool choice: "none" is honoured by not offering the tools at all.
  const tools =
    definitions.length > 0 && choice !== "none"
      ? definitions.map((d) => convertDefinition(d, warnings))
      : undefined;
  if (choice !== undefined && choice !== "auto" && choice !== "none") {
    warnings.push(
      "forcing a tool call (tool_choice / function_call) is not supported by Ollama; the model decides",
    );
  }
  return tools;
}

/** Request settings with no Ollama counterpart: not sent, and said so. */
function unsupportedSettings(request: CompleteChat): string[] {
  const warnings: string[] = [];
  if (request.parallel_tool_calls !== undefined)
    warnings.push("parallel_tool_calls is not supported by Ollama and was not sent; the model decides");
  if (request.provider_preferences !== undefined)
    warnings.push("provider_preferences is OpenRouter's and was not sent to Ollama");
  if (request.user !== undefined) warnings.push("user is not supported by Ollama and was not sent");
  return warnings;
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
