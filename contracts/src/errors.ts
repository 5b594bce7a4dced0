import { z } from "zod";

/**
 * The closed set of error codes. `status` is the HTTP-like number carried in the
 * `Nats-Service-Error-Code` header; `retryable` says whether the same request may succeed later.
 */
export const ERROR_CODES = {
  invalid_json: { status: 400, retryable: false },
  invalid_request: { status: 400, retryable: false },
  payload_too_large: { status: 413, retryable: false },
  unknown_model: { status: 404, retryable: false },
  unknown_provider: { status: 404, retryable: false },
  /** What the request names (a job, a stream) does not exist for this caller, or no longer. */
  not_found: { status: 404, retryable: false },
  unsupported: { status: 422, retryable: false },
  /** A content part (image, file, …) the model or its provider cannot take: refused before any call. */
  unsupported_content: { status: 422, retryable: false },
  busy: { status: 503, retryable: true },
  shutting_down: { status: 503, retryable: true },
  /** The caller cancelled (stopped reading a stream); answered only for the record. */
  cancelled: { status: 499, retryable: false },
  deadline_exceeded: { status: 504, retryable: true },
  rate_limited: { status: 429, retryable: true },
  /** The caller spent a budget of its own (`callers.contexts.<caller>.budgets`) for the period. */
  budget_exceeded: { status: 402, retryable: false },
  upstream_timeout: { status: 504, retryable: true },
  upstream_unavailable: { status: 502, retryable: true },
  upstream_auth: { status: 502, retryable: false },
  upstream_bad_request: { status: 400, retryable: false },
  context_length_exceeded: { status: 400, retryable: false },
  content_filtered: { status: 422, retryable: false },
  upstream_malformed_response: { status: 502, retryable: true },
  /** The provider's vectors do not have the model's (or the requested) dimensions: a configuration fault. */
  dimension_mismatch: { status: 502, retryable: false },
  policy_denied: { status: 403, retryable: false },
  /** The calling context is not one the service is configured to serve. */
  forbidden: { status: 403, retryable: false },
  policy_unavailable: { status: 503, retryable: true },
  /** The service's shared state (JetStream, KV) did not answer in time, e.g. during a leader election. */
  state_unavailable: { status: 503, retryable: true },
  /** A compare-and-set write lost: what it would replace changed since it was read (`config apply`). */
  revision_conflict: { status: 409, retryable: false },
  internal: { status: 500, retryable: false },
  /** Produced by the typed client, never by the service: nobody answers the subject. */
  service_unavailable: { status: 503, retryable: true },
  /** Produced by the typed client, never by the service: no reply within the client's timeout. */
  request_timeout: { status: 504, retryable: true },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CODES;
export const ErrorCodeSchema = z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]);

/** Policy ids of the seed (POL-LLM-001..005). */
export const POLICIES = {
  providerHasName: "POL-LLM-001",
  modelHasPositiveMaxTokens: "POL-LLM-002",
  messagesNonEmpty: "POL-LLM-003",
  embeddingInputNonEmpty: "POL-LLM-004",
  gatewayBypassOnlyInDev: "POL-LLM-005",
} as const;
export type PolicyId = (typeof POLICIES)[keyof typeof POLICIES];

export const ErrorBodySchema = z
  .object({
    code: ErrorCodeSchema,
    message: z.string(),
    field: z.string().optional().describe("Path of the offending request field, e.g. messages[0].content"),
    policy: z.string().optional().describe("Policy id that was violated, e.g. POL-LLM-003"),
    retryable: z.boolean(),
    retry_after_ms: z.number().int().nonnegative().optional(),
    details: z.record(z.string(), z.unknown()).optional(),
  })
  .describe("What went wrong, in a form a program can act on.");

export const ErrorEnvelopeSchema = z
  .object({ error: ErrorBodySchema })
  .describe("Body of every error reply.");
export type ErrorBody = z.infer<typeof ErrorBodySchema>;
export type ErrorEnvelope = z.infer<typeof ErrorEnvelopeSchema>;

/** Longest message and field path an error carries: whatever a caller sent, replies and logs stay small. */
const MAX_MESSAGE_CHARS = 1_024;
const MAX_FIELD_CHARS = 256;
/** Longest caller-supplied value quoted whole in a message. */
const MAX_QUOTED_CHARS = 64;

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * A caller-supplied value (model name, provider id, field name) as messages quote it: in quotes,
 * control characters escaped, cut to 64 characters.
 */
export function quoteValue(value: string): string {
  const escaped = JSON.stringify(cut(value, MAX_QUOTED_CHARS)).slice(1, -1);
  return `'${escaped}'`;
}

/** A typed error of the llm-provider contract; thrown by the typed client and by the service's edges. */
export class LlmProviderError extends Error {
  override readonly name = "LlmProviderError";
  readonly code: ErrorCode;
  readonly field: string | undefined;
  readonly policy: string | undefined;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: {
      field?: string | undefined;
      policy?: string | undefined;
      retryable?: boolean | undefined;
      retryAfterMs?: number | undefined;
      details?: Record<string, unknown> | undefined;
      cause?: unknown;
    } = {},
  ) {
    super(
      cut(message, MAX_MESSAGE_CHARS),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.field = options.field === undefined ? undefined : cut(options.field, MAX_FIELD_CHARS);
    this.policy = options.policy;
    this.retryable = options.retryable ?? ERROR_CODES[code].retryable;
    this.retryAfterMs = options.retryAfterMs;
    this.details = options.details;
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  toBody(): ErrorBody {
    const body: ErrorBody = { code: this.code, message: this.message, retryable: this.retryable };
    if (this.field !== undefined) body.field = this.field;
    if (this.policy !== undefined) body.policy = this.policy;
    if (this.retryAfterMs !== undefined) body.retry_after_ms = this.retryAfterMs;
    if (this.details !== undefined) body.details = this.details;
    return body;
  }

  static fromBody(body: ErrorBody): LlmProviderError {
    return new LlmProviderError(body.code, body.message, {
      field: body.field,
      policy: body.policy,
      retryable: body.retryable,
      retryAfterMs: body.retry_after_ms,
      details: body.details,
    });
  }
}
