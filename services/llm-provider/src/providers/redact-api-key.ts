import { UpstreamError } from "../domain/failure.js";

/**
 * An upstream error whose message quotes the API key gets it replaced by `[redacted]`. The
 * original error (the cause) quotes it too, so it is dropped rather than kept.
 */
export function redactApiKey(error: UpstreamError, apiKey: string | undefined): UpstreamError {
  if (apiKey === undefined || apiKey.length < 8 || !error.message.includes(apiKey)) return error;
  return new UpstreamError(error.failure, error.message.replaceAll(apiKey, "[redacted]"), {
    ...(error.status !== undefined ? { status: error.status } : {}),
    ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
    ...(error.providerCode !== undefined ? { providerCode: error.providerCode } : {}),
  });
}
