/** Every NATS subject of the llm-provider bounded context. Requests and events never share a prefix. */
export const SUBJECTS = {
  completeChat: "llm-provider.cmd.complete_chat",
  streamChat: "llm-provider.cmd.stream_chat",
  /** Every worker listens (no queue group); the one streaming that request stops. */
  cancelStream: "llm-provider.cmd.cancel_stream",
  generateEmbedding: "llm-provider.cmd.generate_embedding",
  listModels: "llm-provider.qry.list_models",
  getProviderHealth: "llm-provider.qry.get_provider_health",
  chatCompletedEvent: "llm-provider.chat_completed.v1",
  embeddingGeneratedEvent: "llm-provider.embedding_generated.v1",
  chatFailedEvent: "llm-provider.chat_failed.v1",
  providerHealthChangedEvent: "llm-provider.provider_health_changed.v1",
} as const;
export type Subject = (typeof SUBJECTS)[keyof typeof SUBJECTS];

/**
 * The subjects of the event stream, listed one by one: a wildcard such as `llm-provider.>` would
 * also capture the request subjects and swallow every request.
 */
export const EVENT_SUBJECTS = [
  SUBJECTS.chatCompletedEvent,
  SUBJECTS.embeddingGeneratedEvent,
  SUBJECTS.chatFailedEvent,
  SUBJECTS.providerHealthChangedEvent,
] as const;
export type EventSubject = (typeof EVENT_SUBJECTS)[number];

/** Name of the NATS micro service (`$SRV.PING.llm-provider`) and of its queue group. */
export const SERVICE_NAME = "llm-provider";
export const QUEUE_GROUP = "llm-provider";

/** NATS headers the service reads or writes. */
export const HEADERS = {
  /** Caller-chosen request id; echoed on the reply and used to derive event ids. */
  requestId: "Request-Id",
  traceparent: "traceparent",
  tracestate: "tracestate",
} as const;
