import type { CompleteChat, FinishReason, FunctionCall, ToolCall } from "@llm-provider/contracts";

/** One chat call to one provider: the neutral request, resolved against the target model. */
export interface ChatCall {
  /** The model name the provider knows. */
  upstreamModel: string;
  request: CompleteChat;
  /** Aborts the HTTP call: per-attempt timeout, request deadline or shutdown. */
  signal: AbortSignal;
}

/** What a provider answered, in neutral form, with the raw values kept beside the normalised ones. */
export interface ChatOutcome {
  upstreamId: string | null;
  responseModel: string | null;
  content: string | null;
  functionCall?: FunctionCall;
  toolCalls?: ToolCall[];
  finishReason: FinishReason;
  rawFinishReason: string | null;
  usage: { promptTokens: number; completionTokens: number } | undefined;
  warnings: string[];
}

/**
 * The port routing talks to: one implementation per wire protocol. Failures are thrown as
 * `UpstreamError` (classified); anything else is a bug.
 */
export interface ProviderClient {
  readonly providerId: string;
  completeChat(call: ChatCall): Promise<ChatOutcome>;
}
