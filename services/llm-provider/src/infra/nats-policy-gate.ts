import { errors as natsErrors } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import { LlmProviderError, PolicyDecisionSchema } from "@llm-provider/contracts";
import type { PolicyEvaluationRequest } from "@llm-provider/contracts";
import type { PolicyCheck, PolicyGate } from "../handlers/policy-gate.js";

export interface NatsPolicyGateOptions {
  nc: NatsConnection;
  subject: string;
  timeoutMs: number;
  environment: "development" | "production";
}

/**
 * Asks the Policy Gateway over NATS request/reply. Fails closed: no answer, no responders or an
 * answer that isn't a decision all refuse the request with `policy_unavailable`.
 */
export function createNatsPolicyGate(options: NatsPolicyGateOptions): PolicyGate {
  const { nc, subject, timeoutMs, environment } = options;
  return {
    async check(check: PolicyCheck): Promise<void> {
      const request: PolicyEvaluationRequest = {
        request_id: check.requestId,
        source: "llm-provider",
        environment,
        operation: check.operation,
        model: check.model,
        provider_id: check.providerId,
        estimated_tokens: check.estimatedTokens,
      };
      const remainingMs = Math.floor(check.deadline - performance.now());
      if (remainingMs <= 0) {
        throw new LlmProviderError("deadline_exceeded", "request deadline passed before the policy check");
      }
      let data: unknown;
      try {
        const timeout = Math.min(timeoutMs, remainingMs);
        const reply = await nc.request(subject, JSON.stringify(request), { timeout });
        data = reply.json();
      } catch (error) {
        throw new LlmProviderError("policy_unavailable", `policy gateway did not answer: ${describe(error)}`);
      }
      const decision = PolicyDecisionSchema.safeParse(data);
      if (!decision.success) {
        throw new LlmProviderError(
          "policy_unavailable",
          "policy gateway answered something that is not a decision",
        );
      }
      if (decision.data.decision === "deny") {
        throw new LlmProviderError("policy_denied", decision.data.reason ?? "denied by the policy gateway", {
          ...(decision.data.policy_id ? { policy: decision.data.policy_id } : {}),
        });
      }
    },
  };
}

function describe(error: unknown): string {
  if (error instanceof natsErrors.RequestError && error.isNoResponders()) return "no responders";
  if (error instanceof natsErrors.TimeoutError || (error as Error).cause instanceof natsErrors.TimeoutError) {
    return "timeout";
  }
  return error instanceof Error ? error.message : String(error);
}
