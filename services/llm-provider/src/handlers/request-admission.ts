import { LlmProviderError, quoteValue } from "@llm-provider/contracts";
import type { Catalog, ModelEntry } from "../domain/catalog.js";
import type { PolicyViolation } from "../domain/policies.js";
import type { ProviderClient } from "../ports/provider-client.js";
import type { CallerLimits } from "../routing/caller-limits.js";
import type { RequestContext } from "../ports/request-handler.js";
import type { EventSink } from "../ports/event-sink.js";
import type { HealthRecorder } from "../ports/health-recorder.js";
import type { PolicyCheck, PolicyGate } from "../ports/policy-gate.js";

/**
 * The checks `complete_chat`, `stream_chat` and `generate_embedding` share before anything is
 * spent upstream, each decided here once: how a policy violation, an unknown model and a model no
 * provider can serve are refused, how the deadline is set, and the order of the caller's budget
 * and the Policy Gateway.
 */

/** A request that breaks a policy (POL-LLM-003/004) is refused as `invalid_request`. */
export function refuseViolation(violation: PolicyViolation | undefined): void {
  if (!violation) return;
  throw new LlmProviderError("invalid_request", violation.message, {
    field: violation.field,
    policy: violation.policy,
  });
}

/** The configured model of that name, or `unknown_model`. */
export function configuredModel(catalog: Catalog, modelName: string): ModelEntry {
  const model = catalog.models.get(modelName);
  if (!model) {
    throw new LlmProviderError("unknown_model", `model ${quoteValue(modelName)} is not configured`, {
      field: "model",
    });
  }
  return model;
}

/**
 * The targets left once those that cannot take the request are filtered out; none is
 * `upstream_unavailable`, final (another try finds the same configuration). `what`: what they
 * cannot do, as the message says it ("serve model", "embed with model").
 */
export function requireServable<T>(servable: T[], what: string, modelName: string): T[] {
  if (servable.length === 0) {
    throw new LlmProviderError(
      "upstream_unavailable",
      `no active provider can ${what} ${quoteValue(modelName)}`,
      {
        retryable: false,
      },
    );
  }
  return servable;
}

/** The request's deadline on the `performance.now()` clock: its own `timeout_ms`, else the default. */
export function deadlineOf(
  context: RequestContext,
  timeoutMs: number | undefined,
  defaultTimeoutMs: number,
): number {
  return context.receivedAt + (timeoutMs ?? defaultTimeoutMs);
}

export interface AdmissionGates {
  callerLimits: CallerLimits;
  policyGate: PolicyGate;
}

/** What every request that goes upstream needs, chat or embeddings. */
export interface UpstreamRequestDeps extends AdmissionGates {
  catalog: () => Catalog;
  clients: ReadonlyMap<string, ProviderClient>;
  events: EventSink;
  /** Every upstream attempt, answered or not (ProviderHealth). */
  health: HealthRecorder;
  defaultTimeoutMs: number;
}

/**
 * The caller's budget first (a spent budget costs the gateway nothing), then the Policy Gateway.
 * Returns when the budget was charged (`Date.now()`), for the settlement with the real count.
 */
export async function admitRequest(
  gates: AdmissionGates,
  context: RequestContext,
  check: Pick<PolicyCheck, "operation" | "model" | "providerId" | "estimatedTokens" | "deadline">,
): Promise<number> {
  const admittedAt = Date.now();
  await gates.callerLimits.admit(context.caller, check.estimatedTokens);
  await gates.policyGate.check({
    ...check,
    requestId: context.requestId,
    caller: context.caller,
    trace: context.trace,
  });
  return admittedAt;
}
