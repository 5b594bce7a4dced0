import { createHash } from "node:crypto";
import { SUBJECTS } from "@llm-provider/contracts";
import type {
  Attempt,
  ChatCompleted,
  ChatCompletion,
  ChatFailed,
  CompleteChat,
  ErrorCode,
} from "@llm-provider/contracts";

/**
 * Event id from the event type and the request id: a caller that retries with the same request id
 * produces the same id, and JetStream (which uses it as `Nats-Msg-Id`) keeps only one.
 */
export function deriveEventId(type: string, requestId: string): string {
  return `evt_${createHash("sha256").update(type).update("\0").update(requestId).digest("hex").slice(0, 32)}`;
}

export interface EventContext {
  requestId: string;
  time: Date;
  traceparent?: string | undefined;
  /** Copy prompt and answer into the event (events.include_content). */
  includeContent: boolean;
}

function envelope<T extends string>(type: T, context: EventContext) {
  return {
    id: deriveEventId(type, context.requestId),
    type,
    source: "llm-provider" as const,
    time: context.time.toISOString(),
    request_id: context.requestId,
    ...(context.traceparent ? { traceparent: context.traceparent } : {}),
  };
}

export function buildChatCompleted(
  completion: ChatCompletion,
  request: CompleteChat,
  context: EventContext,
): ChatCompleted {
  const data: ChatCompleted["data"] = {
    completion_id: completion.id,
    model: completion.model,
    provider_id: completion.provider_id,
    finish_reason: completion.finish_reason,
    usage: completion.usage,
    latency_ms: completion.latency_ms,
    attempts: completion.attempts,
  };
  if (request.metadata) data.metadata = request.metadata;
  if (context.includeContent) {
    data.messages = request.messages;
    data.content = completion.content;
  }
  return { ...envelope(SUBJECTS.chatCompletedEvent, context), data };
}

export function buildChatFailed(
  request: CompleteChat,
  failure: { code: ErrorCode; message: string; attempts: Attempt[]; latencyMs: number },
  context: EventContext,
): ChatFailed {
  const data: ChatFailed["data"] = {
    model: request.model,
    error_code: failure.code,
    message: failure.message,
    latency_ms: failure.latencyMs,
    attempts: failure.attempts,
  };
  if (request.metadata) data.metadata = request.metadata;
  return { ...envelope(SUBJECTS.chatFailedEvent, context), data };
}
