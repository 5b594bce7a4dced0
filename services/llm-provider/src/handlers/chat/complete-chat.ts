import type { ChatCompletion, CompleteChat } from "@llm-provider/contracts";
import type { Target } from "../../domain/catalog.js";
import type { ChatCall, ChatOutcome, ProviderClient } from "../../ports/provider-client.js";
import { createChatAnswerAssembler } from "../../routing/chat-answer-assembler.js";
import type { AttemptBudget, ExecutionResult } from "../../routing/execute-with-fallback.js";
import { readsAsStream, streamAttempt } from "../../routing/stream-attempt.js";
import type { Handler, RequestContext } from "../../ports/request-handler.js";
import { prepareChat } from "./prepare-chat.js";
import type { ChatDeps } from "./prepare-chat.js";
import { answeredChatFields, recordChatAnswer } from "./record-chat-answer.js";
import { chatCallFor, routeChat } from "./route-chat.js";

export type CompleteChatDeps = ChatDeps;

/** CMD-001: validate → POL-LLM-003 → resolve model → policy gate → route → record → ChatCompletion. */
export function createCompleteChatHandler(deps: CompleteChatDeps): Handler {
  return async function completeChat(body, context) {
    const prepared = await prepareChat(body, context, deps, false);
    const readsTargetAsStream = (target: Target) =>
      readsAsStream(target, deps.clients.get(target.provider.id));
    const execution = await routeChat(
      deps,
      prepared,
      context,
      readsTargetAsStream,
      (target, signal, budget) =>
        answerWhole(
          deps.clients.get(target.provider.id)!,
          chatCallFor(target, prepared.request, signal, context),
          readsTargetAsStream(target) ? { target, budget } : undefined,
        ),
    );
    const completion = toChatCompletion(execution, prepared.request, context);
    await recordChatAnswer(
      deps,
      prepared,
      context,
      { completion, end: execution.value },
      { message: "chat completed" },
    );
    return completion;
  };
}

/**
 * One attempt, its answer whole; read as a stream on `streamed`'s target (see `readsAsStream`),
 * within that target's stream limits.
 */
function answerWhole(
  client: ProviderClient,
  call: ChatCall,
  streamed: { target: Target; budget: AttemptBudget } | undefined,
): Promise<ChatOutcome> {
  if (!streamed) return client.completeChat(call);
  // Nothing reaches the caller before the answer is whole, so any failure may still fall back.
  const answer = createChatAnswerAssembler();
  return streamAttempt(client, call, streamed.target, streamed.budget, (delta) => answer.add(delta)).then(
    (stream) => answer.outcome(stream.end),
  );
}

/** The neutral outcome of the answering target → the reply. */
function toChatCompletion(
  execution: ExecutionResult<ChatOutcome>,
  request: CompleteChat,
  context: RequestContext,
): ChatCompletion {
  const outcome = execution.value;
  const completion: ChatCompletion = {
    ...answeredChatFields(outcome, execution, request, context),
    request_id: context.requestId,
    created_at: new Date().toISOString(),
    content: outcome.content,
  };
  if (outcome.reasoning !== undefined) completion.reasoning_content = outcome.reasoning;
  if (outcome.functionCall) completion.function_call = outcome.functionCall;
  if (outcome.toolCalls) completion.tool_calls = outcome.toolCalls;
  return completion;
}
