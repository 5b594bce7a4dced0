import { describe, expect, it } from "vitest";
import { z } from "zod";
import { FailureClass, UpstreamError, failureTraits } from "../domain/failure.js";
import { malformedResponse, parseUpstream } from "./parse-upstream.js";

const schema = z.object({ id: z.string(), count: z.number().int().nullish() });

function thrownBy(run: () => unknown): UpstreamError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(UpstreamError);
    return error as UpstreamError;
  }
  throw new Error("expected a throw");
}

describe("parseUpstream", () => {
  it("answers the schema's value for a body of the expected shape, unknown fields dropped", () => {
    expect(parseUpstream(schema, { id: "a", count: 2, extra: true }, "returned a chat response")).toEqual({
      id: "a",
      count: 2,
    });
  });

  it("throws a retryable malformed_response naming what came, the zod error as cause", () => {
    const error = thrownBy(() => parseUpstream(schema, { id: 7 }, "sent a stream chunk"));
    expect(error.failure).toBe(FailureClass.malformedResponse);
    expect(error.message).toBe("provider sent a stream chunk of unexpected shape");
    expect(error.cause).toBeInstanceOf(z.ZodError);
    expect(error.status).toBeUndefined();
    expect(failureTraits(error.failure)).toMatchObject({
      retryable: true,
      fallbackTrigger: "error",
      errorCode: "upstream_malformed_response",
    });
  });

  it("treats a body that is not an object at all the same way", () => {
    const error = thrownBy(() => parseUpstream(schema, null, "returned an embed response"));
    expect(error.message).toBe("provider returned an embed response of unexpected shape");
  });
});

describe("malformedResponse", () => {
  it("carries the cause only when there is one", () => {
    expect(malformedResponse("provider returned 1 embeddings for 2 inputs").cause).toBeUndefined();
    const cause = new SyntaxError("Unexpected token");
    const error = malformedResponse("provider returned a body that is not JSON", cause);
    expect(error.failure).toBe(FailureClass.malformedResponse);
    expect(error.cause).toBe(cause);
  });
});
