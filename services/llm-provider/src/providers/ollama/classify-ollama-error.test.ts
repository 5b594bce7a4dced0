import { describe, expect, it } from "vitest";
import { classifyOllamaError } from "./classify-ollama-error.js";

const now = Date.parse("2026-11-24T12:00:00Z");
const answer = (status: number, body: string, headers: Record<string, string> = {}) => ({
  status,
  body,
  header: (name: string) => headers[name],
});

describe("classifyOllamaError", () => {
  it('quotes Ollama\'s {"error"} message and classifies by status', () => {
    const notPulled = classifyOllamaError(
      answer(404, '{"error":"model \\"llama9\\" not found, try pulling it first"}'),
      now,
    );
    expect(notPulled).toMatchObject({ failure: "not_found", status: 404 });
    expect(notPulled.message).toBe('provider answered 404: model "llama9" not found, try pulling it first');
    const busy = classifyOllamaError(
      answer(503, '{"error":"server busy, please try again.  maximum pending requests exceeded"}'),
      now,
    );
    expect(busy.failure).toBe("overloaded");
    expect(
      classifyOllamaError(answer(500, '{"error":"llama runner process has terminated"}'), now).failure,
    ).toBe("server_error");
    expect(classifyOllamaError(answer(401, '{"error":"unauthorized"}'), now).failure).toBe("auth");
    expect(classifyOllamaError(answer(400, '{"error":"invalid options"}'), now).failure).toBe("bad_request");
  });

  it("recognises an input longer than the context, retry-after, and bodies from proxies", () => {
    const tooLong = classifyOllamaError(
      answer(400, '{"error":"the input length exceeds the context length"}'),
      now,
    );
    expect(tooLong.failure).toBe("context_window_exceeded");
    expect(
      classifyOllamaError(answer(429, '{"error":"too many requests"}', { "retry-after": "2" }), now),
    ).toMatchObject({
      failure: "rate_limited",
      retryAfterMs: 2_000,
    });
    expect(classifyOllamaError(answer(502, "<html>Bad Gateway</html>"), now).message).toBe(
      "provider answered 502: <html>Bad Gateway</html>",
    );
    expect(classifyOllamaError(answer(500, ""), now).message).toBe("provider answered 500: HTTP 500");
  });
});
