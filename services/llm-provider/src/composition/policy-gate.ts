import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "pino";
import type { Config } from "../config/schema.js";
import { createBypassPolicyGate } from "../infra/policy-gateway/bypass-policy-gate.js";
import { createNatsPolicyGate } from "../infra/policy-gateway/nats-policy-gate.js";
import type { PolicyGate } from "../ports/policy-gate.js";

/** The Policy Gateway over NATS, or (development only, POL-LLM-005) its bypass. */
export function createPolicyGate(config: Config, nc: NatsConnection, logger: Logger): PolicyGate {
  if (config.policy_gateway.bypass) {
    logger.warn("policy gateway bypassed (development only, POL-LLM-005)");
    return createBypassPolicyGate(() => config.environment);
  }
  return createNatsPolicyGate({
    nc,
    subject: config.policy_gateway.subject,
    timeoutMs: config.policy_gateway.timeout_ms,
    environment: config.environment,
    breaker: {
      failureThreshold: config.policy_gateway.breaker_failure_threshold,
      cooldownMs: config.policy_gateway.breaker_cooldown_ms,
    },
    logger,
  });
}
