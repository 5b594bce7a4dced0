import type { Attempt } from "@llm-provider/contracts";

/** Where handlers report every upstream attempt, for ProviderHealth. Never blocks, never throws. */
export interface HealthRecorder {
  recordAttempts(attempts: readonly Attempt[]): void;
}
