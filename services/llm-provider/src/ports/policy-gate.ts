import type { Context } from "@opentelemetry/api";

/** What the Policy Gateway is asked before a request reaches a provider. */
export interface PolicyCheck {
  requestId: string;
  /** The calling bounded context, established by the NATS server. */
  caller: string;
  operation: "chat" | "embedding";
  model: string;
  providerId: string;
  estimatedTokens: number;
  /** The request's deadline (`performance.now()` clock): the gateway is not waited for past it. */
  deadline: number;
  /** The request's trace context, propagated to the gateway. */
  trace: Context;
}

/**
 * Port to the Policy Gateway. Resolves when the request may go ahead; throws `policy_denied`
 * or `policy_unavailable` (`LlmProviderError`) otherwise.
 */
export interface PolicyGate {
  check(request: PolicyCheck): Promise<void>;
}
