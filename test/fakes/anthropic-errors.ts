// The Messages API's error envelope, its per-status defaults, and the fake's scripted errors.
import { randomBytes } from "node:crypto";
import type { Exchange, JsonObject } from "./fake-http-server.js";

/** A scripted error: Anthropic's envelope; unset fields get per-status defaults. */
export interface ScriptedError {
  status: number;
  type?: string;
  message?: string;
  headers?: Record<string, string>;
}

export const ERROR_DEFAULTS: Record<number, { type: string; message: string }> = {
  400: { type: "invalid_request_error", message: "Invalid request." },
  401: { type: "authentication_error", message: "invalid x-api-key" },
  402: { type: "billing_error", message: "Your credit balance is too low to access the Anthropic API." },
  403: {
    type: "permission_error",
    message: "Your API key does not have permission to use the specified resource.",
  },
  404: { type: "not_found_error", message: "model: claude-does-not-exist" },
  413: { type: "request_too_large", message: "Request exceeds the maximum allowed number of bytes." },
  429: { type: "rate_limit_error", message: "Number of requests has exceeded your per-minute rate limit." },
  500: { type: "api_error", message: "Internal server error" },
  503: { type: "api_error", message: "Service unavailable" },
  504: { type: "timeout_error", message: "Request timed out" },
  529: { type: "overloaded_error", message: "Overloaded" },
};

export function errorBody(type: string, message: string): JsonObject {
  return { type: "error", error: { type, message }, request_id: `req_${randomBytes(12).toString("hex")}` };
}

export function sendError(
  exchange: Exchange,
  status: number,
  type: string,
  message: string,
  headers?: Record<string, string>,
) {
  exchange.sendJson(status, errorBody(type, message), headers);
}

export /** A scripted error, with the per-status defaults and, for a 429, the rate-limit headers. */
function sendScriptedError(exchange: Exchange, behavior: ScriptedError): void {
  const fallback = ERROR_DEFAULTS[behavior.status] ?? {
    type: "api_error",
    message: `status ${behavior.status}`,
  };
  const rateLimit: Record<string, string> =
    behavior.status === 429
      ? {
          "anthropic-ratelimit-requests-limit": "50",
          "anthropic-ratelimit-requests-remaining": "0",
          "anthropic-ratelimit-requests-reset": new Date(Date.now() + 60_000).toISOString(),
        }
      : {};
  sendError(exchange, behavior.status, behavior.type ?? fallback.type, behavior.message ?? fallback.message, {
    ...rateLimit,
    ...behavior.headers,
  });
}
