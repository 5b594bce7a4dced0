import Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { classifyAnthropicError } from "./classify-anthropic-error.js";

const now = Date.parse("2026-11-24T12:00:00Z");
const apiError = (status: number, type: string, message: string, headers: Record<string, string> = {}) =>
  Anthropic.APIError.generate(
    status,
    { type: "error", error: { type, message }, request_id: "req_011CSHoEeqs5C35K2UUqR7Fy" },
    undefined,
    new Headers(headers),
  );

describe("classifyAnthropicError", () => {
  it("reads Anthropic's error types, retry-after included", () => {
    const rateLimited = classifyAnthropicError(
      apiError(429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit", {
        "retry-after": "12",
      }),
      now,
    );
    expect(rateLimited).toMatchObject({
      failure: "rate_limited",
      status: 429,
      retryAfterMs: 12_000,
      providerCode: "rate_limit_error",
    });
    expect(rateLimited?.message).toBe(
      "provider answered 429: Number of request tokens has exceeded your per-minute rate limit",
    );
    expect(classifyAnthropicError(apiError(529, "overloaded_error", "Overloaded"), now)?.failure).toBe(
      "overloaded",
    );
    expect(
      classifyAnthropicError(apiError(401, "authentication_error", "invalid x-api-key"), now)?.failure,
    ).toBe("auth");
    expect(classifyAnthropicError(apiError(403, "permission_error", "no access"), now)?.failure).toBe("auth");
    expect(
      classifyAnthropicError(apiError(402, "billing_error", "credit balance too low"), now)?.failure,
    ).toBe("auth");
    expect(classifyAnthropicError(apiError(404, "not_found_error", "model: x"), now)?.failure).toBe(
      "not_found",
    );
    expect(classifyAnthropicError(apiError(500, "api_error", "Internal server error"), now)?.failure).toBe(
      "server_error",
    );
    expect(classifyAnthropicError(apiError(504, "timeout_error", "Request timed out"), now)?.failure).toBe(
      "timeout",
    );
    expect(classifyAnthropicError(apiError(503, "api_error", "Service unavailable"), now)?.failure).toBe(
      "overloaded",
    );
  });

  it("tells a prompt that is too long from other bad requests", () => {
    const tooLong = apiError(
      400,
      "invalid_request_error",
      "prompt is too long: 208310 tokens > 200000 maximum",
    );
    expect(classifyAnthropicError(tooLong, now)?.failure).toBe("context_window_exceeded");
    const exceeds = apiError(
      400,
      "invalid_request_error",
      "input length and `max_tokens` exceed context limit: 197659 + 8192 > 200000",
    );
    expect(classifyAnthropicError(exceeds, now)?.failure).toBe("context_window_exceeded");
    const plain = apiError(400, "invalid_request_error", "max_tokens: Field required");
    expect(classifyAnthropicError(plain, now)).toMatchObject({
      failure: "bad_request",
      providerCode: "invalid_request_error",
    });
  });

  it("classifies network failures and leaves bugs and user aborts alone", () => {
    expect(classifyAnthropicError(new Anthropic.APIConnectionError({ message: "reset" }), now)?.failure).toBe(
      "connection",
    );
    expect(classifyAnthropicError(new Anthropic.APIConnectionTimeoutError(), now)?.failure).toBe("timeout");
    expect(classifyAnthropicError(new SyntaxError("Unexpected token"), now)?.failure).toBe(
      "malformed_response",
    );
    expect(classifyAnthropicError(new Anthropic.APIUserAbortError(), now)).toBeUndefined();
    expect(classifyAnthropicError(new TypeError("x is undefined"), now)).toBeUndefined();
  });
});
