import {
  CompleteChatSchema,
  LlmProviderError,
  parseRequest,
  quoteValue,
  SUBJECTS,
} from "@llm-provider/contracts";
import type { Attempt, CompleteChat } from "@llm-provider/contracts";
import { planTargets } from "../domain/catalog.js";
import type { Catalog, FallbackChain, ModelEntry, Target } from "../domain/catalog.js";
import { findChatMismatch } from "../domain/chat-requirements.js";
import { buildChatFailed } from "../domain/events.js";
import type { EventContext } from "../domain/events.js";
import { checkMessagesNonEmpty } from "../domain/policies.js";
import { estimateChatTokens } from "../domain/tokens.js";
import type { ProviderClient } from "../providers/port.js";
import { currentTraceparent } from "../telemetry/nats-trace-context.js";
import type { RequestContext } from "./context.js";
import type { CallerLimits } from "../routing/caller-limits.js";
import type { EventSink } from "./event-sink.js";
import type { HealthRecorder } from "./health-recorder.js";
import type { PolicyGate } from "./policy-gate.js";

export interface ChatDeps {
  catalog: () => Catalog;
  clients: ReadonlyMap<string, ProviderClient>;
  policyGate: PolicyGate;
  callerLimits: CallerLimits;
  events: EventSink;
  health: HealthRecorder;
  defaultTimeoutMs: number;
  /** Copy prompt and answer into events (events.include_content). */
  includeContentInEvents: boolean;
}

/** A chat request that passed every check and may go upstream. */
export interface PreparedChat {
  request: CompleteChat;
  model: ModelEntry;
  targets: Target[];
  chain: FallbackChain | undefined;
  deadline: number;
  eventContext: EventContext;
  /** What the caller's budget was charged with, and when (`Date.now()`): settled with the real count. */
  estimatedTokens: number;
  admittedAt: number;
}

/**
 * Everything before the upstream call, shared by `complete_chat` and `stream_chat`: schema,
 * POL-LLM-003, model resolution and feature checks, the targets that can take the request, the
 * deadline, and the Policy Gateway.
 */
export async function prepareChat(
  body: unknown,
  context: RequestContext,
  deps: ChatDeps,
  streaming: boolean,
): Promise<PreparedChat> {
  const request = parseRequest(CompleteChatSchema, body);
  const violation = checkMessagesNonEmpty(request.messages);
  if (violation) {
    throw new LlmProviderError("invalid_request", violation.message, {
      field: violation.field,
      policy: violation.policy,
    });
  }
  const catalog = deps.catalog();
  const model = catalog.models.get(request.model);
  if (!model) {
    throw new LlmProviderError("unknown_model", `model ${quoteValue(request.model)} is not configured`, {
      field: "model",
    });
  }
  const mismatch = findChatMismatch(model, request, streaming);
  if (mismatch) throw new LlmProviderError(mismatch.kind, mismatch.message, { field: mismatch.field });

  const { targets, chain } = planTargets(catalog, model.model_name);
  const servable = targets.filter((target) => {
    const client = deps.clients.get(target.provider.id);
    if (!client || (streaming && !client.streamChat)) return false;
    return findChatMismatch(target.model, request, streaming) === undefined;
  });
  if (servable.length === 0) {
    throw new LlmProviderError(
      "upstream_unavailable",
      `no active provider can serve model ${quoteValue(request.model)}`,
      {
        retryable: false,
      },
    );
  }

  const deadline = context.receivedAt + (request.timeout_ms ?? deps.defaultTimeoutMs);
  const estimatedTokens = estimateChatTokens(request, model.max_tokens);
  const admittedAt = Date.now();
  await deps.callerLimits.admit(context.caller, estimatedTokens);
  await deps.policyGate.check({
    deadline,
    requestId: context.requestId,
    caller: context.caller,
    operation: "chat",
    model: model.model_name,
    providerId: model.provider_id,
    estimatedTokens,
    trace: context.trace,
  });

  const eventContext: EventContext = {
    requestId: context.requestId,
    caller: context.caller,
    time: new Date(),
    // Our own span when tracing is on, so consumers of the event link to it; else the caller's.
    traceparent: currentTraceparent(context.trace) ?? context.traceparent,
    includeContent: deps.includeContentInEvents,
  };
  return { request, model, targets: servable, chain, deadline, eventContext, estimatedTokens, admittedAt };
}

/**
 * The caller's budget charged with the provider's count instead of the estimate. An answer
 * without a count keeps the estimate (as providers count it).
 */
export function settleCallerTokens(
  deps: ChatDeps,
  prepared: PreparedChat,
  context: RequestContext,
  usage: { promptTokens: number; completionTokens: number } | undefined,
): void {
  if (!usage) return;
  void deps.callerLimits.settle(context.caller, {
    estimatedTokens: prepared.estimatedTokens,
    actualTokens: usage.promptTokens + usage.completionTokens,
    startedAt: prepared.admittedAt,
  });
}

/**
 * A chat that reached routing and got no answer: its attempts go to the health record and a
 * `chat_failed` event is emitted — except for a cancellation, which is the caller's choice. The
 * error reply waits for the event as a success's does.
 */
export async function recordChatFailure(
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

export function elapsedMs(context: RequestContext): number {
  return Math.round((performance.now() - context.receivedAt) * 1000) / 1000;
}
