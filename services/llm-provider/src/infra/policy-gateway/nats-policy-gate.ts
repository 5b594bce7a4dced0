import type { Context } from "@opentelemetry/api";
import { headers as createHeaders, errors as natsErrors } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import { HEADERS, LlmProviderError, PolicyDecisionSchema } from "@llm-provider/contracts";
import type { PolicyDecision, PolicyEvaluationRequest } from "@llm-provider/contracts";
import type { Logger } from "pino";
import { CircuitBreaker } from "../../domain/circuit-breaker.js";
import type { BreakerPolicy } from "../../domain/circuit-breaker.js";
import type { PolicyCheck, PolicyGate } from "../../ports/policy-gate.js";
import { getInstruments } from "../../telemetry/instruments.js";
import { injectTraceContext } from "../nats/nats-trace-context.js";
import { BREAKER_STATE_VALUE, METRIC } from "../../telemetry/semconv.js";

export interface NatsPolicyGateOptions {
  nc: NatsConnection;
  subject: string;
  timeoutMs: number;
  environment: "development" | "production";
  breaker: BreakerPolicy;
  logger: Logger;
}

/**
 * Asks the Policy Gateway over NATS request/reply. Fails closed: no answer, no responders or an
 * answer that isn't a decision all refuse the request with `policy_unavailable`. A circuit breaker
 * stops asking a gateway that keeps failing (requests are refused at once while it is open) and
 * lets one probe through after the cool-down.
 */
export function createNatsPolicyGate(options: NatsPolicyGateOptions): PolicyGate {
  const { nc, subject, timeoutMs, environment } = options;
  const breaker = new PolicyGatewayBreaker(options.breaker, subject, options.logger);
  return {
    async check(check: PolicyCheck): Promise<void> {
      const remainingMs = Math.floor(check.deadline - performance.now());
      if (remainingMs <= 0) {
        throw new LlmProviderError("deadline_exceeded", "request deadline passed before the policy check");
      }
      breaker.admit();
      const request = evaluationRequestOf(check, environment);
      let decision: PolicyDecision;
      try {
        decision = await askPolicyGateway(
          nc,
          subject,
          request,
          check.trace,
          Math.min(timeoutMs, remainingMs),
        );
      } catch (error) {
        breaker.record(false);
        throw error;
      }
      breaker.record(true);
      if (decision.decision === "deny") {
        throw new LlmProviderError("policy_denied", decision.reason ?? "denied by the policy gateway", {
          ...(decision.policy_id ? { policy: decision.policy_id } : {}),
        });
      }
    },
  };
}

/** The gateway's circuit breaker, its state as a gauge and its transitions in the log. */
class PolicyGatewayBreaker {
  private readonly breaker: CircuitBreaker;

  constructor(
    policy: BreakerPolicy,
    private readonly subject: string,
    private readonly logger: Logger,
  ) {
    const breaker = (this.breaker = new CircuitBreaker(policy));
    getInstruments()
      .meter.createObservableGauge(METRIC.breakerState, { description: "0 closed, 1 half-open, 2 open" })
      .addCallback((result) =>
        result.observe(BREAKER_STATE_VALUE[breaker.state], { target: "policy_gateway" }),
      );
  }

  /** Refuses the request at once while the circuit is open (after the cool-down: one probe passes). */
  admit(): void {
    if (!this.breaker.tryAcquire(Date.now())) {
      throw new LlmProviderError(
        "policy_unavailable",
        "policy gateway circuit is open after repeated failures",
        {
          retryAfterMs: this.breaker.retryAfterMs(Date.now()),
        },
      );
    }
  }

  record(ok: boolean): void {
    const { breaker } = this;
    const before = breaker.state;
    if (ok) breaker.recordSuccess();
    else breaker.recordFailure(Date.now());
    if (breaker.state !== before) {
      this.logger.warn(
        { subject: this.subject, from: before, to: breaker.state },
        "policy gateway circuit breaker changed state",
      );
    }
  }
}

function evaluationRequestOf(
  check: PolicyCheck,
  environment: NatsPolicyGateOptions["environment"],
): PolicyEvaluationRequest {
  return {
    request_id: check.requestId,
    caller: check.caller,
    source: "llm-provider",
    environment,
    operation: check.operation,
    model: check.model,
    provider_id: check.providerId,
    estimated_tokens: check.estimatedTokens,
  };
}

/** One request/reply to the gateway; anything but a decision is `policy_unavailable`. */
async function askPolicyGateway(
  nc: NatsConnection,
  subject: string,
  request: PolicyEvaluationRequest,
  trace: Context,
  timeout: number,
): Promise<PolicyDecision> {
  let data: unknown;
  try {
    const hdrs = createHeaders();
    hdrs.set(HEADERS.requestId, request.request_id);
    injectTraceContext(hdrs, trace);
    const reply = await nc.request(subject, JSON.stringify(request), { timeout, headers: hdrs });
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
  return decision.data;
}

function describe(error: unknown): string {
  if (error instanceof natsErrors.RequestError && error.isNoResponders()) return "no responders";
  if (error instanceof natsErrors.TimeoutError || (error as Error).cause instanceof natsErrors.TimeoutError) {
    return "timeout";
  }
  return error instanceof Error ? error.message : String(error);
}
