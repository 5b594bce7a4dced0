import { z } from "zod";
import { CacheControlSchema, MessageContentSchema, ThinkingBlockSchema } from "./content.js";

/** `developer` is OpenAI's name for system instructions to reasoning models; other wires send it as system. */
export const ChatRoleSchema = z.enum(["system", "developer", "user", "assistant", "function", "tool"]);
export type ChatRole = z.infer<typeof ChatRoleSchema>;

export const FunctionCallSchema = z.strictObject({
  name: z.string().min(1),
  arguments: z.string().describe("JSON-encoded arguments, as the model produced them"),
});
export type FunctionCall = z.infer<typeof FunctionCallSchema>;

export const ToolCallSchema = z.strictObject({
  id: z.string().min(1),
  type: z.literal("function"),
  function: FunctionCallSchema,
});
export type ToolCall = z.infer<typeof ToolCallSchema>;

/** Which part types a role's content may hold: instructions and answers are text; tools may return images. */
const PART_TYPES_BY_ROLE: Record<ChatRole, readonly string[]> = {
  system: ["text"],
  developer: ["text"],
  user: ["text", "image_url", "file"],
  assistant: ["text"],
  tool: ["text", "image_url", "file"],
  function: ["text"],
};

export const ChatMessageSchema = z
  .strictObject({
    role: ChatRoleSchema,
    content: MessageContentSchema.nullable()
      .optional()
      .describe("A string, or parts: text, image_url (user, tool), file (user, tool)"),
    name: z.string().min(1).max(64).optional().describe("Author name; required for role 'function'"),
    function_call: FunctionCallSchema.optional().describe("Legacy single function call (assistant)"),
    tool_calls: z.array(ToolCallSchema).min(1).optional().describe("Tool calls made by the assistant"),
    tool_call_id: z.string().min(1).optional().describe("Which tool call this message answers (role 'tool')"),
    cache_control: CacheControlSchema.optional().describe(
      "Prompt-cache breakpoint after this message (on its last part)",
    ),
    thinking_blocks: z
      .array(ThinkingBlockSchema)
      .min(1)
      .optional()
      .describe(
        "Assistant: the signed thinking blocks of the reply this message repeats, sent back unchanged",
      ),
    reasoning_content: z
      .string()
      .optional()
      .describe("Assistant: the reasoning text of the reply this message repeats (Ollama takes it back)"),
  })
  .superRefine((message, context) => {
    if (Array.isArray(message.content)) {
      const allowed = PART_TYPES_BY_ROLE[message.role];
      message.content.forEach((part, index) => {
        if (!allowed.includes(part.type))
          context.addIssue({
            code: "custom",
            path: ["content", index, "type"],
            message: `a ${message.role} message takes only ${allowed.join(", ")} parts, got ${part.type}`,
          });
      });
    }
    for (const field of ["thinking_blocks", "reasoning_content"] as const)
      if (message[field] !== undefined && message.role !== "assistant")
        context.addIssue({
          code: "custom",
          path: [field],
          message: `only an assistant message carries ${field}, got role ${message.role}`,
        });
  })
  .describe("One message of the conversation");
export type ChatMessage = z.infer<typeof ChatMessageSchema>;

export const FunctionDefinitionSchema = z.strictObject({
  name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, "must be 1-64 letters, digits, '_' or '-'"),
  description: z.string().optional(),
  parameters: z.record(z.string(), z.unknown()).optional().describe("JSON Schema of the arguments"),
  strict: z.boolean().optional(),
});
export type FunctionDefinition = z.infer<typeof FunctionDefinitionSchema>;

export const ToolSchema = z.strictObject({
  type: z.literal("function"),
  function: FunctionDefinitionSchema,
  cache_control: CacheControlSchema.optional().describe("Prompt-cache breakpoint after this tool definition"),
});
export type Tool = z.infer<typeof ToolSchema>;

export const ToolChoiceSchema = z.union([
  z.enum(["none", "auto", "required"]),
  z.strictObject({ type: z.literal("function"), function: z.strictObject({ name: z.string().min(1) }) }),
]);
export const FunctionCallChoiceSchema = z.union([
  z.enum(["none", "auto"]),
  z.strictObject({ name: z.string().min(1) }),
]);

export const ResponseFormatSchema = z.union([
  z.strictObject({ type: z.literal("text") }),
  z.strictObject({ type: z.literal("json_object") }),
  z.strictObject({
    type: z.literal("json_schema"),
    json_schema: z.strictObject({
      name: z.string().min(1),
      description: z.string().optional(),
      schema: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().optional(),
    }),
  }),
]);

/** OpenRouter's `provider` object: which upstream providers may serve the request, and how to pick. */
export const OpenRouterProviderPreferencesSchema = z.strictObject({
  order: z.array(z.string().min(1)).min(1).optional(),
  only: z.array(z.string().min(1)).min(1).optional(),
  ignore: z.array(z.string().min(1)).min(1).optional(),
  allow_fallbacks: z.boolean().optional(),
  require_parameters: z.boolean().optional(),
  data_collection: z.enum(["allow", "deny"]).optional(),
  zdr: z.boolean().optional(),
  sort: z.enum(["price", "throughput", "latency"]).optional(),
  quantizations: z.array(z.string().min(1)).min(1).optional(),
  max_price: z
    .strictObject({
      prompt: z.number().nonnegative().optional(),
      completion: z.number().nonnegative().optional(),
    })
    .optional(),
});

/** CMD-001 CompleteChat: the request body of `llm-provider.cmd.complete_chat` (and `stream_chat`). */
export const CompleteChatSchema = z
  .strictObject({
    model: z.string().min(1).max(256).describe("Model name as listed by llm-provider.qry.list_models"),
    messages: z.array(ChatMessageSchema).describe("The conversation; must be non-empty (POL-LLM-003)"),
    temperature: z.number().min(0).max(2).optional(),
    top_p: z.number().gt(0).max(1).optional(),
    max_tokens: z
      .number()
      .int()
      .positive()
      .optional()
      .describe("Cap on output tokens; at most the model's max_tokens. Unset: the provider's default"),
    max_completion_tokens: z
      .number()
      .int()
      .positive()
      .optional()
      .describe("Cap on output tokens, reasoning included (OpenAI's name); the same limit as max_tokens"),
    reasoning_effort: z
      .enum(["none", "minimal", "low", "medium", "high"])
      .optional()
      .describe(
        "How much the model reasons before answering: OpenAI's reasoning_effort, OpenRouter's reasoning.effort, " +
          "an Anthropic thinking budget (minimal/low 1,024, medium 2,048, high 4,096 tokens), Ollama's think",
      ),
    thinking: z
      .discriminatedUnion("type", [
        z.strictObject({ type: z.literal("enabled"), budget_tokens: z.number().int().min(1024) }),
        z.strictObject({ type: z.literal("disabled") }),
      ])
      .optional()
      .describe(
        "Reasoning with an explicit token budget (Anthropic's thinking, OpenRouter's reasoning.max_tokens)",
      ),
    stop: z.union([z.string().min(1), z.array(z.string().min(1)).min(1).max(4)]).optional(),
    presence_penalty: z.number().min(-2).max(2).optional(),
    frequency_penalty: z.number().min(-2).max(2).optional(),
    seed: z.number().int().optional(),
    response_format: ResponseFormatSchema.optional(),
    functions: z
      .array(FunctionDefinitionSchema)
      .min(1)
      .max(128)
      .optional()
      .describe("Legacy function definitions"),
    function_call: FunctionCallChoiceSchema.optional(),
    tools: z.array(ToolSchema).min(1).max(128).optional(),
    tool_choice: ToolChoiceSchema.optional(),
    parallel_tool_calls: z
      .boolean()
      .optional()
      .describe("false: at most one tool call per answer (Anthropic's disable_parallel_tool_use)"),
    prompt_cache: z
      .enum(["explicit", "auto"])
      .optional()
      .describe(
        "explicit (default): cache_control breakpoints only where the request puts them; auto: also after " +
          "the tools, the system prompt and the last two user turns (the prefix a next turn repeats), at most 4",
      ),
    provider_preferences: OpenRouterProviderPreferencesSchema.optional().describe(
      "OpenRouter's provider routing for this request, over the provider's configured preferences",
    ),
    user: z.string().max(256).optional().describe("End-user id passed to the provider for abuse monitoring"),
    timeout_ms: z
      .number()
      .int()
      .min(100)
      .max(600_000)
      .optional()
      .describe("Total deadline for this request in ms, all retries and fallbacks included"),
    metadata: z.record(z.string(), z.string().max(512)).optional().describe("Caller tags copied to events"),
    stream_rescue: z
      .enum(["restart", "continue", "off"])
      .optional()
      .describe(
        "stream_chat with stream protocol 2: when the answering provider fails after the answer began, " +
          "restart it on the fallback (default), continue the partial answer where the fallback takes an " +
          "assistant prefill (else restart), or end the stream with an error (off)",
      ),
    resumable: z
      .boolean()
      .optional()
      .describe(
        "stream_chat only: also keep the stream's messages for a while, so that a caller that lost " +
          "them can continue with llm-provider.cmd.resume_stream from the last seq it received",
      ),
  })
  .superRefine((request, context) => {
    if (request.max_tokens !== undefined && request.max_completion_tokens !== undefined)
      context.addIssue({
        code: "custom",
        path: ["max_completion_tokens"],
        message: "set max_tokens or max_completion_tokens, not both (they are the same limit)",
      });
    if (request.thinking !== undefined && request.reasoning_effort !== undefined)
      context.addIssue({
        code: "custom",
        path: ["thinking"],
        message: "set thinking or reasoning_effort, not both (they are the same setting)",
      });
  })
  .describe("CMD-001 CompleteChat");
export type CompleteChat = z.infer<typeof CompleteChatSchema>;
export type CompleteChatInput = z.input<typeof CompleteChatSchema>;

export const FinishReasonSchema = z.enum(["stop", "length", "content_filter", "function_call"]);
export type FinishReason = z.infer<typeof FinishReasonSchema>;

export const CostSchema = z.object({
  currency: z.literal("USD"),
  input: z.number().nonnegative().describe("Every input token, cache reads and writes included"),
  output: z.number().nonnegative().describe("Every output token, reasoning included"),
  total: z.number().nonnegative(),
  cache_read: z
    .number()
    .nonnegative()
    .optional()
    .describe("Part of input: tokens read from the prompt cache"),
  cache_write: z
    .number()
    .nonnegative()
    .optional()
    .describe("Part of input: tokens written to the prompt cache"),
  reasoning: z.number().nonnegative().optional().describe("Part of output: reasoning tokens"),
});
export type Cost = z.infer<typeof CostSchema>;

export const TokenUsageSchema = z
  .object({
    prompt_tokens: z.number().int().nonnegative(),
    completion_tokens: z.number().int().nonnegative(),
    total_tokens: z.number().int().nonnegative(),
    cached_input_tokens: z
      .number()
      .int()
      .nonnegative()
      .default(0)
      .describe("Part of prompt_tokens read from the provider's prompt cache"),
    cache_write_tokens: z
      .number()
      .int()
      .nonnegative()
      .default(0)
      .describe("Part of prompt_tokens written to the provider's prompt cache"),
    reasoning_tokens: z
      .number()
      .int()
      .nonnegative()
      .default(0)
      .describe("Part of completion_tokens spent reasoning (0 where the provider does not say)"),
    cost: CostSchema.describe("Price of this call from the model's configured pricing"),
  })
  .describe("TokenUsage: tokens consumed by the answering call and what they cost");
export type TokenUsage = z.infer<typeof TokenUsageSchema>;

/** Why a target of the request's chain was not called. */
export const SkipReasonSchema = z
  .enum([
    "provider_inactive",
    "model_unavailable",
    "no_api_key",
    "provider_unavailable",
    "missing_capability",
    "circuit_open",
    "rate_limited",
    "not_enough_time",
  ])
  .describe(
    "provider_inactive: taken out of service (is_active false); model_unavailable: the model is out of " +
      "service (is_available false); no_api_key: the provider's key is not set; " +
      "provider_unavailable: this version has no wire for it; missing_capability: the model cannot take " +
      "this request (see reason); circuit_open: its breaker is open; rate_limited: its RPM/TPM budget " +
      "for the window is spent; not_enough_time: too little of the deadline left to try it",
  );
export type SkipReason = z.infer<typeof SkipReasonSchema>;

export const AttemptSchema = z.object({
  provider_id: z.string(),
  model: z.string(),
  outcome: z.enum(["success", "error", "skipped"]).describe("skipped: not called, `skip_reason` says why"),
  error_code: z.string().optional(),
  skip_reason: SkipReasonSchema.optional(),
  reason: z.string().optional().describe("Why it was skipped, in words"),
  latency_ms: z.number().nonnegative(),
});
export type Attempt = z.infer<typeof AttemptSchema>;

/** ChatCompletion: the reply of `llm-provider.cmd.complete_chat`. */
export const ChatCompletionSchema = z
  .object({
    id: z.string().describe("Completion id assigned by llm-provider"),
    request_id: z.string(),
    created_at: z.string().describe("ISO 8601 time the completion was created"),
    model: z.string().describe("Model that answered"),
    provider_id: z.string().describe("Provider that answered"),
    upstream_id: z.string().nullable().describe("The provider's own id for the completion"),
    content: z.string().nullable(),
    reasoning_content: z
      .string()
      .optional()
      .describe("The model's reasoning text, where the provider returns it; never part of content"),
    thinking_blocks: z
      .array(ThinkingBlockSchema)
      .optional()
      .describe("Signed reasoning (Anthropic): send it back in the assistant message of the next turn"),
    function_call: FunctionCallSchema.optional(),
    tool_calls: z.array(ToolCallSchema).optional(),
    finish_reason: FinishReasonSchema,
    raw_finish_reason: z.string().nullable().describe("Finish reason exactly as the provider sent it"),
    usage: TokenUsageSchema,
    latency_ms: z.number().nonnegative().describe("Time from request received to reply, in ms"),
    attempts: z.array(AttemptSchema).describe("Every upstream attempt made, in order"),
    warnings: z
      .array(z.string())
      .describe("Settings the provider could not honour, and an answer from a fallback model"),
    replayed: z
      .literal(true)
      .optional()
      .describe(
        "The stored answer of an earlier request with the same Request-Id (within the idempotency window): " +
          "nothing was called, charged or announced again",
      ),
  })
  .describe("ChatCompletion");
export type ChatCompletion = z.infer<typeof ChatCompletionSchema>;
