import type { ErrorCode } from "@llm-provider/contracts";

/**
 * Every upstream failure is classified once, where it is created; retry and fallback
 * decisions read only this class.
 */
export const FailureClass = {
  rateLimited: "rate_limited",
  timeout: "timeout",
  connection: "connection",
  serverError: "server_error",
  overloaded: "overloaded",
  auth: "auth",
  badRequest: "bad_request",
  notFound: "not_found",
  contextWindowExceeded: "context_window_exceeded",
  contentFilter: "content_filter",
  malformedResponse: "malformed_response",
  /** Not a call: the provider's circuit breaker is open, so the attempt was not made. */
  circuitOpen: "circuit_open",
  /** Not a call: the provider's RPM/TPM budget for this window is spent. */
  localRateLimited: "local_rate_limited",
} as const;
export type FailureClass = (typeof FailureClass)[keyof typeof FailureClass];

interface FailureTraits {
  /** The same request to the same target may succeed if tried again. */
  retryable: boolean;
  /** Which fallback trigger of a chain lets this failure move on to the next target. */
  fallbackTrigger: "error" | "rate_limit" | "timeout" | "context_window" | undefined;
  errorCode: ErrorCode;
}

const TRAITS: Record<FailureClass, FailureTraits> = {
  rate_limited: { retryable: true, fallbackTrigger: "rate_limit", errorCode: "rate_limited" },
  timeout: { retryable: true, fallbackTrigger: "timeout", errorCode: "upstream_timeout" },
  connection: { retryable: true, fallbackTrigger: "error", errorCode: "upstream_unavailable" },
  server_error: { retryable: true, fallbackTrigger: "error", errorCode: "upstream_unavailable" },
  overloaded: { retryable: true, fallbackTrigger: "error", errorCode: "upstream_unavailable" },
  malformed_response: { retryable: true, fallbackTrigger: "error", errorCode: "upstream_malformed_response" },
  auth: { retryable: false, fallbackTrigger: "error", errorCode: "upstream_auth" },
  not_found: { retryable: false, fallbackTrigger: "error", errorCode: "upstream_bad_request" },
  context_window_exceeded: {
    retryable: false,
    fallbackTrigger: "context_window",
    errorCode: "context_length_exceeded",
  },
  circuit_open: { retryable: false, fallbackTrigger: "error", errorCode: "upstream_unavailable" },
  local_rate_limited: { retryable: false, fallbackTrigger: "rate_limit", errorCode: "rate_limited" },
  // Caller's problem or the provider's judgement: another provider is not asked.
  bad_request: { retryable: false, fallbackTrigger: undefined, errorCode: "upstream_bad_request" },
  content_filter: { retryable: false, fallbackTrigger: undefined, errorCode: "content_filtered" },
};

/** Failures decided here, before any call: the attempt is recorded as skipped. */
export function isLocalRefusal(failure: FailureClass): boolean {
  return failure === FailureClass.circuitOpen || failure === FailureClass.localRateLimited;
}

export function failureTraits(failure: FailureClass): FailureTraits {
  return TRAITS[failure];
}

/** A classified failure of one upstream call. Its message never contains secrets. */
export class UpstreamError extends Error {
  override readonly name = "UpstreamError";
  readonly failure: FailureClass;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  /** The provider's own error type/code, for diagnostics. */
  readonly providerCode: string | undefined;

  constructor(
    failure: FailureClass,
    message: string,
    options: { status?: number; retryAfterMs?: number; providerCode?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.failure = failure;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.providerCode = options.providerCode;
  }
}

/** HTTP status → failure class, for wires whose error bodies say nothing more specific. */
export function classifyHttpStatus(status: number): FailureClass {
  if (status === 429) return FailureClass.rateLimited;
  if (status === 408) return FailureClass.timeout;
  if (status === 401 || status === 403) return FailureClass.auth;
  if (status === 404) return FailureClass.notFound;
  if (status === 413) return FailureClass.contextWindowExceeded;
  if (status === 529 || status === 503) return FailureClass.overloaded;
  if (status >= 500) return FailureClass.serverError;
  return FailureClass.badRequest;
}

/**
 * Parses `retry-after-ms` (ms) or `retry-after` (seconds or an HTTP date) into milliseconds.
 * `now` is injected so the function stays pure.
 */
export function parseRetryAfterMs(
  getHeader: (name: string) => string | null | undefined,
  now: number,
): number | undefined {
  const millis = getHeader("retry-after-ms");
  if (millis != null && millis !== "") {
    const value = Number(millis);
    if (Number.isFinite(value) && value >= 0) return Math.ceil(value);
  }
  const retryAfter = getHeader("retry-after");
  if (retryAfter == null || retryAfter === "") return undefined;
  const seconds = Number(retryAfter);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds * 1000);
  const date = Date.parse(retryAfter);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
