import Anthropic from "@anthropic-ai/sdk";
import { FailureClass, UpstreamError, classifyHttpStatus, parseRetryAfterMs } from "../../domain/failure.js";

/** Anthropic's 400s for a prompt that does not fit: "prompt is too long: …", "input length and `max_tokens` exceed context limit: …". */
const CONTEXT_WINDOW_TEXT = /prompt is too long|exceed context limit|context window|too many tokens/i;

/**
 * Anthropic's error `type` → failure class, where the type says more than the status. Others
 * (`api_error`, `invalid_request_error`, types added later) are classified by HTTP status.
 */
const FAILURE_BY_TYPE: Record<string, FailureClass> = {
  overloaded_error: FailureClass.overloaded,
  rate_limit_error: FailureClass.rateLimited,
  authentication_error: FailureClass.auth,
  permission_error: FailureClass.auth,
  // An account problem like a bad key: not worth a retry, another provider may serve.
  billing_error: FailureClass.auth,
  not_found_error: FailureClass.notFound,
  timeout_error: FailureClass.timeout,
};

/**
 * Classifies an error thrown by the Anthropic SDK, once. Returns `undefined` for errors that did
 * not come from the provider or the network (bugs, and aborts that routing classifies itself).
 */
export function classifyAnthropicError(error: unknown, now: number): UpstreamError | undefined {
  if (error instanceof UpstreamError) return error;
  if (error instanceof Anthropic.APIConnectionTimeoutError) {
    return new UpstreamError(FailureClass.timeout, "provider did not answer in time", { cause: error });
  }
  if (error instanceof Anthropic.APIUserAbortError) return undefined;
  if (error instanceof Anthropic.APIConnectionError) {
    return new UpstreamError(FailureClass.connection, "connection to provider failed", { cause: error });
  }
  if (error instanceof Anthropic.APIError && typeof error.status === "number") {
    const status: number = error.status;
    const type = error.type ?? undefined;
    const providerMessage = error.apiMessage ?? `HTTP ${status}`;
    let failure = (type !== undefined ? FAILURE_BY_TYPE[type] : undefined) ?? classifyHttpStatus(status);
    if (failure === FailureClass.badRequest && CONTEXT_WINDOW_TEXT.test(providerMessage)) {
      failure = FailureClass.contextWindowExceeded;
    }
    const responseHeaders = error.headers as Headers | undefined;
    const retryAfterMs = parseRetryAfterMs((name) => responseHeaders?.get(name), now);
    const providerCode = error.errorCode ?? type;
    return new UpstreamError(failure, `provider answered ${status}: ${providerMessage}`, {
      status,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      ...(providerCode ? { providerCode } : {}),
      cause: error,
    });
  }
  if (error instanceof Anthropic.APIError && error.status === undefined && error.type) {
    // An `error` event inside a stream (e.g. overloaded_error after the 200): no status, the type says it.
    const failure = FAILURE_BY_TYPE[error.type] ?? FailureClass.serverError;
    return new UpstreamError(
      failure,
      `provider failed mid-stream: ${error.type}: ${error.apiMessage ?? "no message"}`,
      { providerCode: error.type, cause: error },
    );
  }
  if (error instanceof SyntaxError) {
    return new UpstreamError(FailureClass.malformedResponse, "provider returned a body that is not JSON", {
      cause: error,
    });
  }
  return undefined;
}
