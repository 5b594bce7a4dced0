import type { BreakerState } from "../../domain/circuit-breaker.js";

/** What the breaker bucket holds per target (provider and model): the shared state, and who set it. */
export interface SharedBreakerState {
  state: BreakerState;
  opened_at: number;
  by: string;
}

export function encodeSharedState(shared: SharedBreakerState): string {
  return JSON.stringify(shared);
}

/** A breaker state a worker wrote, or undefined for anything else. */
export function parseSharedState(text: string): SharedBreakerState | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const { state, opened_at: openedAt, by } = value as Record<string, unknown>;
  if (state !== "closed" && state !== "open" && state !== "half_open") return undefined;
  if (typeof by !== "string" || typeof openedAt !== "number") return undefined;
  return { state, opened_at: openedAt, by };
}
