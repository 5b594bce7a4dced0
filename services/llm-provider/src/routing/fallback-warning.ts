import type { Attempt } from "@llm-provider/contracts";
import type { Target } from "../domain/catalog.js";

/**
 * The warning for an answer from another model than the one asked for, saying why the asked one
 * was not used; undefined when the asked model answered. A fallback is never silent.
 */
export function fallbackWarningOf(
  requestedModel: string,
  answering: Target,
  attempts: readonly Attempt[],
): string | undefined {
  if (answering.model.model_name === requestedModel) return undefined;
  const reasons = new Set<string>();
  for (const attempt of attempts) {
    if (attempt.model !== requestedModel || attempt.outcome === "success") continue;
    const reason = attempt.reason ?? attempt.skip_reason ?? attempt.error_code;
    if (reason) reasons.add(reason);
  }
  const why = reasons.size > 0 ? `: ${[...reasons].join("; ")}` : "";
  return (
    `answered by fallback model '${answering.model.model_name}' on provider '${answering.provider.id}'; ` +
    `requested model '${requestedModel}' was not used${why}`
  );
}

/** `warnings` with the fallback warning of the answer in front, when there is one. */
export function withFallbackWarning(
  warnings: readonly string[],
  requestedModel: string,
  answering: Target,
  attempts: readonly Attempt[],
): string[] {
  const fallback = fallbackWarningOf(requestedModel, answering, attempts);
  return fallback === undefined ? [...warnings] : [fallback, ...warnings];
}
