import type { UpstreamError } from "../domain/failure.js";
import { redactApiKey } from "./redact-api-key.js";

/**
 * Runs a batch API call so that whatever it throws leaves classified by the wire's `classify`
 * and with the API key redacted; errors `classify` does not know (bugs) go on as they are.
 */
export function classifyBatchCalls(
  classify: (error: unknown, now: number) => UpstreamError | undefined,
  apiKey: string | undefined,
): <T>(work: () => Promise<T>) => Promise<T> {
  return async function classifiedBatchCall<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      const classified = classify(error, Date.now());
      throw classified === undefined ? error : redactApiKey(classified, apiKey);
    }
  };
}
