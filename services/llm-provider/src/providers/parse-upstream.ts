import type { z } from "zod";
import { FailureClass, UpstreamError } from "../domain/failure.js";

/** An answer the wire cannot read: retryable, and a fallback trigger, like any broken answer. */
export function malformedResponse(message: string, cause?: unknown): UpstreamError {
  return new UpstreamError(FailureClass.malformedResponse, message, cause === undefined ? {} : { cause });
}

/**
 * A provider's body (or one stream part) checked against the wire's lenient schema. A body of
 * another shape is `malformed_response`, its message naming what came (`what`, e.g. "returned a
 * chat response" or "sent a stream chunk") and the zod error as its cause.
 */
export function parseUpstream<Schema extends z.ZodType>(
  schema: Schema,
  value: unknown,
  what: string,
): z.output<Schema> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw malformedResponse(`provider ${what} of unexpected shape`, parsed.error);
  return parsed.data;
}
