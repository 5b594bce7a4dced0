/**
 * Every telemetry name the service emits, in one place: the OpenTelemetry GenAI conventions are
 * still "development" and move; renaming happens here only.
 */
export const ATTR = {
  genAiOperationName: "gen_ai.operation.name",
  genAiProviderName: "gen_ai.provider.name",
  genAiRequestModel: "gen_ai.request.model",
  genAiRequestMaxTokens: "gen_ai.request.max_tokens",
  genAiRequestTemperature: "gen_ai.request.temperature",
  genAiRequestTopP: "gen_ai.request.top_p",
  genAiRequestPresencePenalty: "gen_ai.request.presence_penalty",
  genAiRequestFrequencyPenalty: "gen_ai.request.frequency_penalty",
  genAiRequestStopSequences: "gen_ai.request.stop_sequences",
  genAiRequestSeed: "gen_ai.request.seed",
  genAiRequestStream: "gen_ai.request.stream",
  genAiOutputType: "gen_ai.output.type",
  genAiResponseTimeToFirstChunk: "gen_ai.response.time_to_first_chunk",
  genAiResponseModel: "gen_ai.response.model",
  genAiResponseId: "gen_ai.response.id",
  genAiResponseFinishReasons: "gen_ai.response.finish_reasons",
  genAiUsageInputTokens: "gen_ai.usage.input_tokens",
  genAiUsageOutputTokens: "gen_ai.usage.output_tokens",
  genAiUsageCacheReadInputTokens: "gen_ai.usage.cache_read.input_tokens",
  genAiUsageCacheCreationInputTokens: "gen_ai.usage.cache_creation.input_tokens",
  genAiUsageReasoningOutputTokens: "gen_ai.usage.reasoning.output_tokens",
  genAiEmbeddingsDimensionCount: "gen_ai.embeddings.dimension.count",
  genAiTokenType: "gen_ai.token.type",
  errorType: "error.type",
  exceptionType: "exception.type",
  exceptionMessage: "exception.message",
  exceptionStacktrace: "exception.stacktrace",
  serverAddress: "server.address",
  serverPort: "server.port",
  messagingSystem: "messaging.system",
  messagingDestinationName: "messaging.destination.name",
  messagingOperationType: "messaging.operation.type",
  messagingOperationName: "messaging.operation.name",
  messagingConsumerGroupName: "messaging.consumer.group.name",
  messagingMessageBodySize: "messaging.message.body.size",
  requestId: "llm_provider.request_id",
  /** The calling bounded context (bounded: the configured contexts and `anonymous`). */
  caller: "llm_provider.caller",
  refusalReason: "llm_provider.refusal_reason",
  providerId: "llm_provider.provider_id",
  model: "llm_provider.model",
  costUsd: "llm_provider.cost_usd",
  cacheHit: "llm_provider.cache_hit",
  attempts: "llm_provider.attempts",
  /** The live configuration's KV revision in force (absent while the worker runs on its file alone). */
  configRevision: "llm_provider.config_revision",
} as const;

export const METRIC = {
  tokenUsage: "gen_ai.client.token.usage",
  operationDuration: "gen_ai.client.operation.duration",
  timeToFirstChunk: "gen_ai.client.operation.time_to_first_chunk",
  cost: "llm_provider.cost",
  fallbacks: "llm_provider.fallbacks",
  retries: "llm_provider.retries",
  requestsInFlight: "llm_provider.requests.in_flight",
  requestsRefused: "llm_provider.requests.refused",
  requestsBusy: "llm_provider.requests.busy",
  eventQueueDepth: "llm_provider.events.queue_depth",
  eventsDropped: "llm_provider.events.dropped",
  eventsAtRisk: "llm_provider.events.at_risk",
  breakerState: "llm_provider.circuit_breaker.state",
  cacheLookups: "llm_provider.embedding_cache.lookups",
} as const;

/** The tracer and meter name (instrumentation scope). */
export const SCOPE = "llm-provider";

/** `gen_ai.provider.name` per provider type (well-known names where the conventions have one). */
export function genAiProviderName(providerType: string): string {
  return providerType === "azure_openai" ? "azure.ai.openai" : providerType;
}

/** The circuit breaker gauge's value per state. */
export const BREAKER_STATE_VALUE = { closed: 0, half_open: 1, open: 2 } as const;
