import type { Context } from "@opentelemetry/api";
import type {
  CompleteChat,
  FinishReason,
  FunctionCall,
  ThinkingBlock,
  ToolCall,
  ToolCallDelta,
} from "@llm-provider/contracts";

/** One chat call to one provider: the neutral request, resolved against the target model. */
export interface ChatCall {
  /** The model name the provider knows. */
  upstreamModel: string;
  /**
   * The model's output limit (ModelSpec `max_tokens`). Wires whose API requires a limit on every
   * call (Anthropic) send it when the request sets none.
   */
  modelMaxTokens: number;
  /**
   * The request, checked against the target model: its content parts are ones the model and wire
   * take (domain/content-requirements.ts), so a wire maps them and never drops one.
   */
  request: CompleteChat;
  /** The model honours prompt-cache breakpoints: wires that carry `cache_control` send it. */
  promptCaching?: boolean;
  /** Ollama: the context length to run the model with (`num_ctx`) and how long to keep it loaded. */
  ollama?: { numCtx: number; keepAlive?: string | number | undefined };
  /** Aborts the HTTP call: per-attempt timeout, request deadline or shutdown. */
  signal: AbortSignal;
  /** The request's trace context: the call's span is its child (none: a trace of its own). */
  trace?: Context;
}

/** What a provider answered, in neutral form, with the raw values kept beside the normalised ones. */
export interface ChatOutcome {
  upstreamId: string | null;
  responseModel: string | null;
  content: string | null;
  /** Reasoning text the provider returned, never part of `content`. */
  reasoning?: string;
  /** Anthropic's signed thinking blocks, in the order they came. */
  thinkingBlocks?: ThinkingBlock[];
  functionCall?: FunctionCall;
  toolCalls?: ToolCall[];
  finishReason: FinishReason;
  rawFinishReason: string | null;
  usage: ChatUsage | undefined;
  /** What the provider itself says the call cost, in USD (OpenRouter's `usage.cost`). */
  providerCostUsd?: number;
  warnings: string[];
}

/** Token counts of one call. */
export interface ChatUsage {
  /** Every input token, including those read from or written to a prompt cache. */
  promptTokens: number;
  completionTokens: number;
  /** Part of `promptTokens` read from the provider's prompt cache. */
  cacheReadTokens?: number;
  /** Part of `promptTokens` written to the provider's prompt cache. */
  cacheWriteTokens?: number;
  /** Part of `completionTokens` spent reasoning, where the provider says. */
  reasoningTokens?: number;
}

/** One embeddings call to one provider: texts already de-duplicated and cut to the batch size. */
export interface EmbeddingCall {
  /** The model name the provider knows. */
  upstreamModel: string;
  inputs: readonly string[];
  /** Vector length to ask for; only set when it differs from the model's native length. */
  dimensions?: number | undefined;
  /** End-user id, passed on for the provider's abuse monitoring. */
  user?: string | undefined;
  /** Aborts the HTTP call: per-attempt timeout, request deadline or shutdown. */
  signal: AbortSignal;
  /** The request's trace context: the call's span is its child (none: a trace of its own). */
  trace?: Context;
}

/** What a provider answered: one vector per input, in input order. */
export interface EmbeddingOutcome {
  vectors: Float32Array[];
  responseModel: string | null;
  usage: { promptTokens: number } | undefined;
  warnings: string[];
}

/**
 * The port routing talks to: one implementation per wire protocol. Failures are thrown as
 * `UpstreamError` (classified); anything else is a bug.
 */
export interface ProviderClient {
  readonly providerId: string;
  completeChat(call: ChatCall): Promise<ChatOutcome>;
  /**
   * Absent on a wire without embeddings: such targets never get embedding requests. Anthropic
   * has it only to refuse with a typed `unsupported` error.
   */
  generateEmbeddings?(call: EmbeddingCall): Promise<EmbeddingOutcome>;
  /**
   * The answer as it arrives: deltas, then exactly one `end`. A stream that stops before `end` is
   * cut, and the consumer treats it as a failure. Absent on a wire without streaming.
   */
  streamChat?(call: ChatCall): AsyncIterable<ChatStreamPart>;
}

/** A piece of a streamed answer, in neutral form. */
export type ChatStreamPart =
  | { type: "delta"; delta: ChatDelta }
  | { type: "end"; end: Omit<ChatOutcome, "content" | "toolCalls" | "functionCall" | "reasoning"> };

export interface ChatDelta {
  content?: string;
  /** Reasoning text, streamed apart from the content. */
  reasoning?: string;
  toolCalls?: ToolCallDelta[];
  functionCall?: { name?: string; arguments?: string };
}
