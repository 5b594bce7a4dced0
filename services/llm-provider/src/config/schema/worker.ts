import { z } from "zod";
import { SecretRefSchema } from "./fields.js";

// How one worker connects to NATS, admits requests, asks the policy gateway, and is probed.

export const NatsConnectionConfigSchema = z.strictObject({
  servers: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).default("nats://127.0.0.1:4222"),
  name: z.string().default("llm-provider"),
  user: z.string().optional(),
  password_ref: SecretRefSchema.optional(),
  token_ref: SecretRefSchema.optional(),
  creds_file: z.string().optional(),
});

export const ServiceConfigSchema = z.strictObject({
  queue_group: z.string().min(1).default("llm-provider"),
  max_in_flight: z.number().int().positive().max(100_000).default(256),
  max_request_bytes: z.number().int().positive().default(1_048_576),
  default_timeout_ms: z.number().int().positive().default(60_000),
  shutdown_grace_ms: z.number().int().min(0).default(10_000),
  create_state: z
    .boolean()
    .optional()
    .describe(
      "Worker creates the event stream and KV buckets itself (needs JetStream administration rights); " +
        "unset: in development only. Otherwise llm-provider-bootstrap creates them",
    ),
});

export const PolicyGatewayConfigSchema = z.strictObject({
  bypass: z.boolean().default(false).describe("Skip the gateway; allowed only in development (POL-LLM-005)"),
  subject: z.string().min(1).default("policy-gateway.cmd.evaluate"),
  timeout_ms: z.number().int().positive().default(2_000),
  breaker_failure_threshold: z
    .number()
    .int()
    .positive()
    .default(5)
    .describe("Failures in a row that open it"),
  breaker_cooldown_ms: z.number().int().positive().default(5_000).describe("Open time before one probe"),
});

export const ProbesConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe("Serve GET /livez and /readyz over HTTP"),
    host: z.string().min(1).default("0.0.0.0").describe("Address the probe server binds"),
    port: z.number().int().min(0).max(65_535).default(8080).describe("0 = any free port"),
  })
  .describe("Liveness and readiness for orchestrators (Kubernetes); requests never come this way");

export const LiveConfigSchema = z.strictObject({
  enabled: z
    .boolean()
    .default(false)
    .describe("Take providers, models and fallback_chains from the KV bucket, and follow its changes"),
  bucket: z
    .string()
    .regex(/^[-\w]+$/)
    .default("llm_provider_config"),
  replicas: z
    .number()
    .int()
    .min(1)
    .max(5)
    .default(1)
    .describe("Used by `config apply` when it creates the bucket"),
  poll_interval_ms: z
    .number()
    .int()
    .min(50)
    .max(5_000)
    .default(250)
    .describe("How often a worker reads the stored revision (a direct get; no consumer)"),
});
