import { describe, expect, it } from "vitest";
import { exponentialBackoffMs } from "./backoff.js";
import { classifyHttpStatus, failureTraits, parseRetryAfterMs } from "./failure.js";

const headers = (values: Record<string, string>) => (name: string) => values[name];

describe("parseRetryAfterMs", () => {
  const now = Date.parse("2026-11-24T12:00:00Z");
  it("prefers retry-after-ms, then seconds, then an HTTP date", () => {
    expect(parseRetryAfterMs(headers({ "retry-after-ms": "1500", "retry-after": "9" }), now)).toBe(1500);
    expect(parseRetryAfterMs(headers({ "retry-after": "2" }), now)).toBe(2000);
    expect(parseRetryAfterMs(headers({ "retry-after": "0.25" }), now)).toBe(250);
    expect(parseRetryAfterMs(headers({ "retry-after": "Tue, 24 Nov 2026 12:00:03 GMT" }), now)).toBe(3000);
  });
  it("ignores missing or unreadable values", () => {
    expect(parseRetryAfterMs(headers({}), now)).toBeUndefined();
    expect(parseRetryAfterMs(headers({ "retry-after": "soon" }), now)).toBeUndefined();
    expect(parseRetryAfterMs(headers({ "retry-after-ms": "-5" }), now)).toBeUndefined();
  });
});

describe("classifyHttpStatus", () => {
  it.each([
    [429, "rate_limited"],
    [408, "timeout"],
    [401, "auth"],
    [403, "auth"],
    [404, "not_found"],
    [400, "bad_request"],
    [422, "bad_request"],
    [500, "server_error"],
    [502, "server_error"],
    [503, "overloaded"],
    [529, "overloaded"],
  ])("%i → %s", (status, failure) => {
    expect(classifyHttpStatus(status)).toBe(failure);
  });
});

describe("failure traits", () => {
  it("retries what a retry can fix and never a caller error or a content filter", () => {
    expect(failureTraits("rate_limited").retryable).toBe(true);
    expect(failureTraits("server_error").retryable).toBe(true);
    expect(failureTraits("bad_request").retryable).toBe(false);
    expect(failureTraits("content_filter").retryable).toBe(false);
    expect(failureTraits("context_window_exceeded").retryable).toBe(false);
    expect(failureTraits("content_filter").fallbackTrigger).toBeUndefined();
    expect(failureTraits("context_window_exceeded").errorCode).toBe("context_length_exceeded");
  });
});

describe("exponentialBackoffMs", () => {
  it("doubles from the initial delay up to the cap, with at most 25 % jitter", () => {
    const policy = { initialMs: 500, maxMs: 8_000 };
    expect(exponentialBackoffMs(0, policy, 0)).toBe(500);
    expect(exponentialBackoffMs(1, policy, 0)).toBe(1000);
    expect(exponentialBackoffMs(10, policy, 0)).toBe(8000);
    expect(exponentialBackoffMs(1, policy, 0.999)).toBeGreaterThanOrEqual(750);
  });
});
