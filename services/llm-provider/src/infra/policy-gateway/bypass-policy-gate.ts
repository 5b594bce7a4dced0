import { LlmProviderError } from "@llm-provider/contracts";
import { checkGatewayBypassOnlyInDev } from "../../domain/policies.js";
import type { PolicyGate } from "../../ports/policy-gate.js";

/**
 * Development only: lets every request through without asking the gateway. POL-LLM-005 is
 * checked at start-up and again on every request, so a mis-wired production process fails closed.
 */
export function createBypassPolicyGate(environment: () => "development" | "production"): PolicyGate {
  return {
    check() {
      const violation = checkGatewayBypassOnlyInDev(environment(), true);
      if (!violation) return Promise.resolve();
      return Promise.reject(
        new LlmProviderError("policy_unavailable", violation.message, {
          policy: violation.policy,
          retryable: false,
        }),
      );
    },
  };
}
