import { z } from "zod";

/** Default subject of the Policy Gateway bounded context (configurable on the service). */
export const POLICY_GATEWAY_SUBJECT = "policy-gateway.cmd.evaluate";

/** What llm-provider asks the Policy Gateway before a request reaches a provider. */
export const PolicyEvaluationRequestSchema = z
  .object({
    request_id: z.string(),
    caller: z
      .string()
      .describe(
        "Calling bounded context, as the NATS server established it (`anonymous` in single-account development)",
      ),
    source: z.literal("llm-provider"),
    environment: z.enum(["development", "production"]),
    operation: z.enum(["chat", "embedding"]),
    model: z.string(),
    provider_id: z.string(),
    estimated_tokens: z.number().int().nonnegative(),
  })
  .describe("PolicyEvaluationRequest sent to the Policy Gateway");
export type PolicyEvaluationRequest = z.infer<typeof PolicyEvaluationRequestSchema>;

export const PolicyDecisionSchema = z
  .object({
    decision: z.enum(["allow", "deny"]),
    reason: z.string().optional(),
    policy_id: z.string().optional().describe("The gateway's policy that decided"),
  })
  .describe("PolicyDecision returned by the Policy Gateway");
export type PolicyDecision = z.infer<typeof PolicyDecisionSchema>;
