// OpenAI's error envelope `{"error":{"message","type","param","code"}}` and its usual messages.
import type { FakeBehavior } from "./server-state.js";

interface OpenAIErrorFields {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

export interface HttpError {
  status: number;
  /** OpenAI's fields; OpenRouter answers its own with a numeric `code`. */
  error: OpenAIErrorFields | { message: string; code: number };
  headers?: Record<string, string>;
}

const ERROR_DEFAULTS: Record<number, Omit<OpenAIErrorFields, "param">> = {
  400: { type: "invalid_request_error", code: null, message: "Bad request." },
  401: { type: "invalid_request_error", code: "invalid_api_key", message: "Incorrect API key provided." },
  403: { type: "invalid_request_error", code: null, message: "You are not allowed to perform this request." },
  404: {
    type: "invalid_request_error",
    code: "model_not_found",
    message: "The model does not exist or you do not have access to it.",
  },
  429: {
    type: "requests",
    code: "rate_limit_exceeded",
    message: "Rate limit reached for requests. Please try again later.",
  },
  500: {
    type: "server_error",
    code: null,
    message: "The server had an error while processing your request. Sorry about that!",
  },
  503: {
    type: "server_error",
    code: null,
    message: "The engine is currently overloaded, please try again later.",
  },
};

export function errorFromBehavior(behavior: Extract<FakeBehavior, { kind: "error" }>): HttpError {
  const fallback = ERROR_DEFAULTS[behavior.status] ?? {
    type: behavior.status >= 500 ? "server_error" : "invalid_request_error",
    code: null,
    message: `Fake error with status ${behavior.status}.`,
  };
  return {
    status: behavior.status,
    error: {
      message: behavior.message ?? fallback.message,
      type: behavior.type ?? fallback.type,
      param: behavior.param ?? null,
      code: behavior.code === undefined ? fallback.code : behavior.code,
    },
    ...(behavior.headers ? { headers: behavior.headers } : {}),
  };
}

export function invalidRequest(
  message: string,
  param: string | null = null,
  code: string | null = null,
): HttpError {
  return { status: 400, error: { message, type: "invalid_request_error", param, code } };
}

export function missingParameter(name: string): HttpError {
  return invalidRequest(`Missing required parameter: '${name}'.`, name, "missing_required_parameter");
}

export const INVALID_JSON_BODY = invalidRequest(
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP " +
    "library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
);

export const MISSING_MODEL = invalidRequest("you must provide a model parameter");

export const INTERNAL_ERROR_BODY = JSON.stringify({
  error: {
    message: "The fake server failed to handle the request.",
    type: "server_error",
    param: null,
    code: null,
  },
});

function maskApiKey(key: string): string {
  return key.length > 8
    ? `${key.slice(0, 3)}${"*".repeat(Math.min(key.length - 7, 20))}${key.slice(-4)}`
    : "***";
}

/** OpenAI's two 401 flavours: no bearer token at all, or a wrong one. */
export function checkApiKey(
  expected: string | undefined,
  authorization: string | undefined,
): HttpError | undefined {
  if (expected === undefined) return undefined;
  const presented = authorization?.startsWith("Bearer ") ? authorization.slice("Bearer ".length) : undefined;
  if (presented === expected) return undefined;
  if (presented === undefined) {
    const message =
      "You didn't provide an API key. You need to provide your API key in an Authorization header using " +
      "Bearer auth (i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from " +
      "https://platform.openai.com/account/api-keys.";
    return { status: 401, error: { message, type: "invalid_request_error", param: null, code: null } };
  }
  const message =
    `Incorrect API key provided: ${maskApiKey(presented)}. ` +
    "You can find your API key at https://platform.openai.com/account/api-keys.";
  return {
    status: 401,
    error: { message, type: "invalid_request_error", param: null, code: "invalid_api_key" },
  };
}
