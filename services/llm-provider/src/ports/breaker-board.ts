import { FailureClass } from "../domain/failure.js";

/**
 * The circuit breakers of all targets, as every worker sees them, by `breakerKey`. `admit` is
 * answered from memory except when a cool-down ended and this worker competes to send the one probe.
 */
export interface BreakerBoard {
  admit(key: string): boolean | Promise<boolean>;
  /** `true` for an answer, a failure class for a failure; failures that say nothing about the target's health are ignored. */
  report(key: string, outcome: true | FailureClass): void;
  isOpen(key: string): boolean;
  retryAfterMs(key: string): number;
}

/**
 * What one breaker guards: a model on a provider (by the name the provider knows it), so a failing
 * model does not hide behind its provider's healthy ones. Provider ids hold no `/`.
 */
export function breakerKey(providerId: string, upstreamModel: string): string {
  return `${providerId}/${upstreamModel}`;
}

export function parseBreakerKey(key: string): { providerId: string; upstreamModel: string } {
  const slash = key.indexOf("/");
  return slash === -1
    ? { providerId: key, upstreamModel: "" }
    : { providerId: key.slice(0, slash), upstreamModel: key.slice(slash + 1) };
}

/** Failures that count against a provider: it is down, overloaded, too slow, broken or refuses our key. */
const COUNTED: ReadonlySet<FailureClass> = new Set<FailureClass>([
  FailureClass.serverError,
  FailureClass.overloaded,
  FailureClass.timeout,
  FailureClass.connection,
  FailureClass.malformedResponse,
  FailureClass.auth,
]);

/** Rate limits, bad requests, content filters, refusals made here …: they say nothing against the provider. */
export function countsAgainstProvider(failure: FailureClass): boolean {
  return COUNTED.has(failure);
}
