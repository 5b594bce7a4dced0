import { LlmProviderError, quoteValue } from "@llm-provider/contracts";
import type { Catalog, ModelEntry, PlannedTarget, TargetSkip } from "../domain/catalog.js";
import type { PolicyViolation } from "../domain/policies.js";
import type { ProviderClient } from "../ports/provider-client.js";
import type { SpendRequest } from "../domain/budgets.js";
import type { CallerBudgets } from "../routing/caller-budgets.js";
import type { CallerLimits } from "../routing/caller-limits.js";
import type { DeploymentBalancer } from "../routing/deployment-balancer.js";
import { skippedAttempt } from "../routing/execute-with-fallback.js";
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
 * The planned targets when at least one can be called; when none can, `upstream_unavailable`,
 * final (another try finds the same configuration), listing each target with why it cannot.
 */
export function requireCallable(targets: PlannedTarget[], modelName: string): PlannedTarget[] {
  if (targets.some((target) => !target.skip)) return targets;
  const attempts = targets.map((target) => skippedAttempt(target, target.skip!));
  const reasons = attempts.map((attempt) => `${attempt.provider_id}/${attempt.model}: ${attempt.reason}`);
  throw new LlmProviderError(
    "upstream_unavailable",
    `no provider can serve model ${quoteValue(modelName)} (${reasons.join("; ")})`,
    { retryable: false, details: { attempts } },
  );
}

/** Why `target` cannot be called at all on this worker, or undefined when its client exists. */
export function clientSkipOf(
  deps: Pick<UpstreamRequestDeps, "clients" | "providersWithoutClient">,
  target: PlannedTarget,
): TargetSkip | undefined {
  if (deps.clients.has(target.provider.id)) return undefined;
  return (
    deps.providersWithoutClient.get(target.provider.id) ?? {
      reason: "provider_unavailable",
      detail: `provider '${target.provider.id}' has no client on this worker`,
    }
  );
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
  callerBudgets: CallerBudgets;
  callerLimits: CallerLimits;
  policyGate: PolicyGate;
}

/** What every request that goes upstream needs, chat or embeddings. */
export interface UpstreamRequestDeps extends AdmissionGates {
  catalog: () => Catalog;
  clients: ReadonlyMap<string, ProviderClient>;
  /** Why a configured provider has no client (its key is not set, no wire for its type). */
  providersWithoutClient: ReadonlyMap<string, TargetSkip>;
  events: EventSink;
  /** Every upstream attempt, answered or not (ProviderHealth). */
  health: HealthRecorder;
  /** Orders the deployments of a model with several, per request. */
  balancer: DeploymentBalancer;
  defaultTimeoutMs: number;
}

/**
 * The caller's spend budgets first (a request past them would take from its rate limits for
 * nothing), then its rate limits (a spent budget costs the gateway nothing), then the Policy
 * Gateway. Returns when the rate budget was charged (`Date.now()`), for the settlement with the
 * real count.
 */
export async function admitRequest(
  gates: AdmissionGates,
  context: RequestContext,
  check: Pick<PolicyCheck, "operation" | "model" | "providerId" | "estimatedTokens" | "deadline"> & {
    /** The request's tags, which tagged budgets select by. */
    metadata?: Readonly<Record<string, string>> | undefined;
  },
): Promise<number> {
  const { metadata, ...policyCheck } = check;
  await gates.callerBudgets.admit(context.caller, { model: check.model, metadata });
  const admittedAt = Date.now();
  await gates.callerLimits.admit(context.caller, check.estimatedTokens);
  await gates.policyGate.check({
    ...policyCheck,
    requestId: context.requestId,
    caller: context.caller,
    trace: context.trace,
  });
  return admittedAt;
}

/** What a request's spend is counted and checked by: the model asked for, and its tags. */
export function spendRequestOf(request: {
  model: string;
  metadata?: Readonly<Record<string, string>> | undefined;
}): SpendRequest {
  return request.metadata === undefined
    ? { model: request.model }
    : { model: request.model, metadata: request.metadata };
}
