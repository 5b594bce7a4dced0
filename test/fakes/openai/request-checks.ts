// What the Chat Completions API refuses before it answers, for the features of issue 21: parameters
// a model does not take (GPT-5 and the o-series refuse `max_tokens`, other models
// `reasoning_effort`), content parts of the wrong shape or in the wrong role, and fields of another
// API (OpenRouter's `reasoning` and `provider` on OpenAI; `cache_control` where OpenAI has none).
// Each answer is the API's own 400 body.
import { asObject, type JsonObject } from "../fake-http-server.js";
import { invalidRequest, type HttpError } from "./errors.js";
import type { FakeFlavour } from "./server-state.js";

const EFFORTS = ["none", "minimal", "low", "medium", "high"];
const ROLES = ["system", "developer", "user", "assistant", "tool", "function"];
/** Part types each role takes, as the API reference lists them. */
const PART_TYPES: Record<string, string[]> = {
  system: ["text"],
  developer: ["text"],
  user: ["text", "image_url", "input_audio", "file"],
  assistant: ["text", "refusal"],
  tool: ["text"],
};
const PART_FIELDS: Record<string, string[]> = {
  text: ["type", "text"],
  image_url: ["type", "image_url"],
  input_audio: ["type", "input_audio"],
  file: ["type", "file"],
  refusal: ["type", "refusal"],
};
const IMAGE_DATA_URL = /^data:image\/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/]*={0,2}$/;
const DATA_URL = /^data:([a-z]+\/[a-z0-9.+-]+);base64,[A-Za-z0-9+/]*={0,2}$/;

/**
 * Whether `model` is a reasoning model (GPT-5, o1, o3, o4), by the name after any vendor prefix
 * (`openai/gpt-5-mini` on OpenRouter, a deployment named after its model on Azure).
 */
export function isReasoningModel(model: string): boolean {
  return /^(gpt-5|o1|o3|o4)/.test(model.slice(model.lastIndexOf("/") + 1));
}

/** A request value as the API quotes it in an error. */
const shown = (value: unknown): string => (typeof value === "string" ? value : JSON.stringify(value));

const unsupportedParameter = (name: string, hint = ""): HttpError =>
  invalidRequest(
    `Unsupported parameter: '${name}' is not supported with this model.${hint}`,
    name,
    "unsupported_parameter",
  );

/** The first thing the API would refuse in `request`, or undefined. */
export function checkChatRequest(request: JsonObject, flavour: FakeFlavour): HttpError | undefined {
  const parameters =
    flavour === "openrouter" ? checkOpenRouterReasoning(request) : checkOpenAIParameters(request);
  return parameters ?? checkMessages(request, flavour);
}

/** OpenRouter's `reasoning`: one of effort and max_tokens (its own error body: a numeric code). */
function checkOpenRouterReasoning(request: JsonObject): HttpError | undefined {
  const reasoning = request["reasoning"];
  if (reasoning === undefined) return undefined;
  const fields = asObject(reasoning);
  const effort = fields?.["effort"];
  if (
    !fields ||
    (effort !== undefined && (typeof effort !== "string" || ![...EFFORTS, "xhigh"].includes(effort)))
  )
    return openRouterError(`Invalid reasoning: ${JSON.stringify(reasoning)}`);
  if (effort !== undefined && fields["max_tokens"] !== undefined)
    return openRouterError("Only one of reasoning.effort and reasoning.max_tokens may be set");
  return undefined;
}

function openRouterError(message: string): HttpError {
  return { status: 400, error: { message, code: 400 } };
}

function checkOpenAIParameters(request: JsonObject): HttpError | undefined {
  const model = String(request["model"]);
  for (const field of ["reasoning", "provider", "usage"])
    if (field in request) return invalidRequest(`Unrecognized request argument supplied: ${field}`);
  if (isReasoningModel(model) && "max_tokens" in request)
    return unsupportedParameter("max_tokens", " Use 'max_completion_tokens' instead.");
  const effort = request["reasoning_effort"];
  if (effort !== undefined) {
    if (!isReasoningModel(model)) return unsupportedParameter("reasoning_effort");
    if (typeof effort !== "string" || !EFFORTS.includes(effort))
      return invalidRequest(
        `Invalid value: '${shown(effort)}'. Supported values are: 'none', 'minimal', 'low', 'medium', and 'high'.`,
        "reasoning_effort",
        "invalid_value",
      );
  }
  if ("parallel_tool_calls" in request && !Array.isArray(request["tools"]))
    return invalidRequest(
      "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when 'tools' are specified.",
      "parallel_tool_calls",
    );
  return undefined;
}

function checkMessages(request: JsonObject, flavour: FakeFlavour): HttpError | undefined {
  const messages = request["messages"] as unknown[];
  for (let index = 0; index < messages.length; index++) {
    const message = asObject(messages[index]) ?? {};
    const role = String(message["role"]);
    if (!ROLES.includes(role))
      return invalidRequest(
        `Invalid value: '${role}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.`,
        `messages[${index}].role`,
        "invalid_value",
      );
    const content = message["content"];
    if (!Array.isArray(content)) continue;
    for (let partIndex = 0; partIndex < content.length; partIndex++) {
      const problem = checkPart(
        asObject(content[partIndex]) ?? {},
        role,
        `messages[${index}].content[${partIndex}]`,
        flavour,
      );
      if (problem) return problem;
    }
  }
  return undefined;
}

function checkPart(
  part: JsonObject,
  role: string,
  where: string,
  flavour: FakeFlavour,
): HttpError | undefined {
  const type = String(part["type"]);
  const allowed = PART_TYPES[role] ?? [];
  if (!allowed.includes(type))
    return invalidRequest(
      `Invalid value: '${type}'. Supported values are: ${allowed.map((t) => `'${t}'`).join(", ")}.`,
      `${where}.type`,
      "invalid_value",
    );
  // OpenAI validates parts against a closed schema; OpenRouter also takes Anthropic's breakpoint.
  const fields = flavour === "openrouter" ? [...PART_FIELDS[type]!, "cache_control"] : PART_FIELDS[type]!;
  const extra = Object.keys(part).find((key) => !fields.includes(key));
  if (extra !== undefined)
    return invalidRequest(
      `Additional properties are not allowed ('${extra}' was unexpected) - '${where.replace(/\[(\d+)\]/g, ".$1")}'`,
    );
  if (
    flavour === "openrouter" &&
    part["cache_control"] !== undefined &&
    asObject(part["cache_control"])?.["type"] !== "ephemeral"
  )
    return invalidRequest(
      `Invalid '${where}.cache_control': expected {"type": "ephemeral"}.`,
      `${where}.cache_control`,
    );
  if (type === "text" && typeof part["text"] !== "string")
    return invalidRequest(
      `Missing required parameter: '${where}.text'.`,
      `${where}.text`,
      "missing_required_parameter",
    );
  if (type === "image_url") return checkImage(asObject(part["image_url"]), `${where}.image_url`);
  if (type === "file") return checkFile(asObject(part["file"]), `${where}.file`, flavour);
  return undefined;
}

function checkImage(image: JsonObject | undefined, where: string): HttpError | undefined {
  const url = image?.["url"];
  if (typeof url !== "string")
    return invalidRequest(
      `Missing required parameter: '${where}.url'.`,
      `${where}.url`,
      "missing_required_parameter",
    );
  const detail = image?.["detail"];
  if (detail !== undefined && (typeof detail !== "string" || !["auto", "low", "high"].includes(detail)))
    return invalidRequest(
      `Invalid value: '${shown(detail)}'. Supported values are: 'auto', 'low', and 'high'.`,
      `${where}.detail`,
      "invalid_value",
    );
  if (url.startsWith("https://") || url.startsWith("http://") || IMAGE_DATA_URL.test(url)) return undefined;
  const mediaType = DATA_URL.exec(url)?.[1];
  return invalidRequest(
    `Invalid '${where}.url'. Expected a base64-encoded data URL with an image MIME type (e.g. ` +
      `'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got ${mediaType ? `unsupported MIME type '${mediaType}'` : "a value that is not a URL"}.`,
    `${where}.url`,
    "invalid_value",
  );
}

/** A file is `file_data` (OpenAI: a base64 PDF with its filename; OpenRouter: also a PDF's URL) or a `file_id`. */
function checkFile(file: JsonObject | undefined, where: string, flavour: FakeFlavour): HttpError | undefined {
  const data = file?.["file_data"];
  const id = file?.["file_id"];
  if (typeof data !== "string" && typeof id !== "string")
    return invalidRequest(
      `Invalid '${where}': one of 'file_data' or 'file_id' must be provided.`,
      where,
      "missing_required_parameter",
    );
  if (typeof data !== "string") return undefined;
  const isUrl = data.startsWith("https://") || data.startsWith("http://");
  if (isUrl && flavour === "openrouter") return undefined;
  if (DATA_URL.exec(data)?.[1] !== "application/pdf")
    return invalidRequest(
      `Invalid '${where}.file_data'. Expected a base64-encoded data URL with a PDF MIME type ('data:application/pdf;base64,...').`,
      `${where}.file_data`,
      "invalid_value",
    );
  if (typeof file?.["filename"] !== "string")
    return invalidRequest(
      `Missing required parameter: '${where}.filename'.`,
      `${where}.filename`,
      "missing_required_parameter",
    );
  return undefined;
}
