import { LlmProviderError, SUBJECTS } from "@llm-provider/contracts";
import type { Attempt, CompleteChat } from "@llm-provider/contracts";
import { upstreamModelName } from "../../domain/catalog.js";
import { withoutIdleReasoningSettings } from "../../domain/chat-requirements.js";
import type { Target } from "../../domain/catalog.js";
import { buildChatFailed } from "../../domain/events.js";
import type { ChatCall } from "../../ports/provider-client.js";
import { executeWithFallback } from "../../routing/execute-with-fallback.js";
import type { AttemptFunction, ExecutionResult } from "../../routing/execute-with-fallback.js";
import type { RequestContext } from "../../ports/request-handler.js";
import type { ChatDeps, PreparedChat } from "./prepare-chat.js";
import { elapsedMs } from "../request-record.js";

/**
 * A prepared chat along its targets (`executeWithFallback`), each attempt made by `attempt`.
 * Every attempt goes to the health record, answered or not; a chat that got no answer is recorded
 * as failed (`recordChatFailure`) before its error is thrown.
 */
export async function routeChat<T>(
  deps: ChatDeps,
  prepared: PreparedChat,
  context: RequestContext,
  streamed: (target: Target) => boolean,
  attempt: AttemptFunction<T>,
): Promise<ExecutionResult<T>> {
  const { targets, chain, deadline } = prepared;
  let execution: ExecutionResult<T>;
  try {
    execution = await executeWithFallback(
      { targets, chain, deadline, signal: context.signal, streamed },
      attempt,
    );
  } catch (error) {
    await recordChatFailure(deps, prepared, context, error);
    throw error;
  }
  deps.health.recordAttempts(execution.attempts);
  return execution;
}

/** The call one attempt makes on `target`: the request resolved against the target's model. */
export function chatCallFor(
  target: Target,
  request: CompleteChat,
  signal: AbortSignal,
  context: RequestContext,
): ChatCall {
  const { model } = target;
  const call: ChatCall = {
    upstreamModel: upstreamModelName(model),
    modelMaxTokens: model.max_tokens,
    request: withoutIdleReasoningSettings(request, model),
    promptCaching: model.features.prompt_caching,
    signal,
    trace: context.trace,
  };
  if (target.provider.provider_type === "ollama")
    call.ollama = {
      numCtx: model.ollama?.num_ctx ?? model.context_window,
      keepAlive: model.ollama?.keep_alive,
    };
  return call;
}

/**
 * A chat that reached routing and got no answer: its attempts go to the health record and a
 * `chat_failed` event is emitted — except for a cancellation, which is the caller's choice. The
 * error reply waits for the event as a success's does.
 */
async function recordChatFailure(
  deps: ChatDeps,
  prepared: PreparedChat,
  context: RequestContext,
  error: unknown,
): Promise<void> {
  if (!(error instanceof LlmProviderError)) return;
  const attempts = (error.details?.attempts as Attempt[] | undefined) ?? [];
  deps.health.recordAttempts(attempts);
  if (error.code === "cancelled") return;
  const failure = { code: error.code, message: error.message, attempts, latencyMs: elapsedMs(context) };
  await deps.events.emit(
    SUBJECTS.chatFailedEvent,
    () => buildChatFailed(prepared.request, failure, prepared.eventContext),
    prepared.deadline,
  );
}
