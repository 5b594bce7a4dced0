import OpenAI from "openai";
import { FailureClass, UpstreamError, classifyHttpStatus, parseRetryAfterMs } from "../../domain/failure.js";

const CONTEXT_WINDOW_TEXT =
  /context[_ ]length|context window|maximum context|too many tokens|prompt is too long/i;

/**
 * Classifies an error thrown by the openai SDK, once. Returns `undefined` for errors that did not
 * come from the provider or the network (those are bugs, not upstream failures).
 */
export function classifyOpenAIError(error: unknown, now: number): UpstreamError | undefined {
  if (error instanceof UpstreamError) return error;
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new UpstreamError(FailureClass.timeout, "provider did not answer in time", { cause: error });
  }
  if (error instanceof OpenAI.APIUserAbortError) return undefined;
  if (error instanceof OpenAI.APIConnectionError) {
    return new UpstreamError(FailureClass.connection, "connection to provider failed", { cause: error });
  }
  if (error instanceof OpenAI.APIError && typeof error.status === "number") {
    const status: number = error.status;
    const responseHeaders = error.headers as Headers | undefined;
    const code = typeof error.code === "string" ? error.code : undefined;
    const type = typeof error.type === "string" ? error.type : undefined;
    const providerMessage = readProviderMessage(error.error as unknown) ?? `HTTP ${status}`;
    const retryAfterMs = parseRetryAfterMs((name) => responseHeaders?.get(name), now);
    let failure = classifyHttpStatus(status);
    if (code === "context_length_exceeded" || (status === 400 && CONTEXT_WINDOW_TEXT.test(providerMessage))) {
      failure = FailureClass.contextWindowExceeded;
    } else if (code === "content_filter" || code === "content_policy_violation") {
      failure = FailureClass.contentFilter;
    }
    return new UpstreamError(failure, `provider answered ${status}: ${providerMessage}`, {
      status,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      ...((code ?? type) ? { providerCode: (code ?? type)! } : {}),
      cause: error,
    });
  }
  if (error instanceof SyntaxError) {
    return new UpstreamError(FailureClass.malformedResponse, "provider returned a body that is not JSON", {
      cause: error,
    });
  }
  return undefined;
}

function readProviderMessage(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const message = (body as { message?: unknown }).message;
  return typeof message === "string" ? message : undefined;
}
