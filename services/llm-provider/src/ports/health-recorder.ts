import type { Attempt } from "@llm-provider/contracts";
import type { HealthSnapshot, LastKnownHealth } from "../domain/provider-health.js";

/** Where handlers report every upstream attempt, for ProviderHealth. Never blocks, never throws. */
export interface HealthRecorder {
  recordAttempts(attempts: readonly Attempt[]): void;
}

/** Counts the calls to each provider in flight on this worker (shared with the others as `inFlight`). */
export interface InFlightGauge {
  callStarted(providerId: string): void;
  callEnded(providerId: string): void;
}

/** Provider health shared by every worker: what they record, and what a health query reads. */
export interface HealthCache extends HealthRecorder, InFlightGauge {
  /**
   * Every worker's recent snapshot of one provider, merged (eventually consistent, as the seed
   * says), read from the shared store now: waits for it, and fails when it does not answer.
   */
  read(providerId: string): Promise<HealthSnapshot>;
  /**
   * What this worker knows of the provider without asking the store: the other workers' entries
   * as its last successful `read` found them, with its own window as it is now. Never waits.
   */
  lastKnown(providerId: string): LastKnownHealth;
  /** Writes what is pending and stops the timer. */
  close(): Promise<void>;
}
