import { FailureClass } from "../domain/failure.js";

/**
 * The circuit breakers of all providers, as every worker sees them. `admit` is answered from
 * memory except when a cool-down ended and this worker competes to send the one probe.
 */
export interface BreakerBoard {
  admit(providerId: string): boolean | Promise<boolean>;
  /** `true` for an answer, a failure class for a failure; failures that say nothing about the provider's health are ignored. */
  report(providerId: string, outcome: true | FailureClass): void;
  isOpen(providerId: string): boolean;
  retryAfterMs(providerId: string): number;
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
