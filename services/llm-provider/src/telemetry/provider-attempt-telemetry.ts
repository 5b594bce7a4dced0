import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { Attributes, Context, Span, Tracer } from "@opentelemetry/api";
import type { ProviderSpec } from "../domain/catalog.js";
import { UpstreamError } from "../domain/failure.js";
import type { CompleteChat } from "@llm-provider/contracts";
import type { ChatCall, ChatOutcome } from "../ports/provider-client.js";
import { getInstruments } from "./instruments.js";
import { ATTR, genAiProviderName, SCOPE } from "./semconv.js";

/** The attribute sets of one operation on one model, reused by every call. */
interface AttributeSets {
  /** The span name, `{operation} {model}`. */
  name: string;
  metric: Attributes;
  span: Attributes;
  /** Duration and token-usage attributes per response model. */
  answered: Map<string, { duration: Attributes; input: Attributes; output: Attributes }>;
  /** Duration attributes per `error.type`. */
  failed: Map<string, Attributes>;
}

/** One upstream attempt under way: its CLIENT span and when it started. */
export interface ProviderAttempt {
  span: Span;
  sets: AttributeSets;
  started: number;
}

export type ProviderOperation = "chat" | "embeddings";

/**
 * The spans and metrics of one provider's upstream attempts, per the GenAI conventions: `start`
 * opens the CLIENT span, `succeed` or `fail` ends it and records duration (and token usage).
 */
export class ProviderAttemptTelemetry {
  private readonly tracer: Tracer = trace.getTracer(SCOPE);
  private readonly providerName: string;
  private readonly server: Attributes;
  // Attribute sets per operation and model, built once: the SDK copies span attributes and
  // hashes metric attributes on every call anyway, and a fresh object per call is garbage.
  // Bounded: the models are the configured ones (response models, the few each answers as).
  private readonly attributeSets = new Map<string, AttributeSets>();

  constructor(provider: ProviderSpec) {
    this.providerName = genAiProviderName(provider.provider_type);
    const endpoint = new URL(provider.endpoint);
    this.server = {
      [ATTR.serverAddress]: endpoint.hostname,
      [ATTR.serverPort]: Number(endpoint.port || (endpoint.protocol === "https:" ? 443 : 80)),
      [ATTR.providerId]: provider.id,
    };
  }

  start(operation: ProviderOperation, model: string, parent: Context | undefined): ProviderAttempt {
    const sets = this.attributeSetsOf(operation, model);
    const span = this.tracer.startSpan(
      sets.name,
      { kind: SpanKind.CLIENT, attributes: sets.span },
      parent ?? ROOT_CONTEXT,
    );
    return { span, sets, started: performance.now() };
  }

  /** `start` for a chat call, with the request settings the conventions name on the span. */
  startChat(call: ChatCall, streamed: boolean): ProviderAttempt {
    const attempt = this.start("chat", call.upstreamModel, call.trace);
    attempt.span.setAttributes(requestSettingAttributes(call.request, streamed));
    return attempt;
  }

  /** A streamed call's first chunk: on its span and in the time-to-first-chunk histogram. */
  firstChunk(attempt: ProviderAttempt): void {
    const seconds = (performance.now() - attempt.started) / 1000;
    attempt.span.setAttribute(ATTR.genAiResponseTimeToFirstChunk, seconds);
    getInstruments().timeToFirstChunk.record(seconds, attempt.sets.metric);
  }

  /** Puts a chat answer's response attributes on the span; returns the model that answered. */
  annotateChat(span: Span, outcome: Omit<ChatOutcome, "content">, model: string): string {
    const responseModel = outcome.responseModel ?? model;
    span.setAttribute(ATTR.genAiResponseModel, responseModel);
    span.setAttribute(ATTR.genAiResponseFinishReasons, [outcome.rawFinishReason ?? outcome.finishReason]);
    if (outcome.upstreamId) span.setAttribute(ATTR.genAiResponseId, outcome.upstreamId);
    if (outcome.usage) {
      span.setAttribute(ATTR.genAiUsageInputTokens, outcome.usage.promptTokens);
      span.setAttribute(ATTR.genAiUsageOutputTokens, outcome.usage.completionTokens);
      const { cacheReadTokens, cacheWriteTokens, reasoningTokens } = outcome.usage;
      if (cacheReadTokens !== undefined)
        span.setAttribute(ATTR.genAiUsageCacheReadInputTokens, cacheReadTokens);
      if (cacheWriteTokens !== undefined)
        span.setAttribute(ATTR.genAiUsageCacheCreationInputTokens, cacheWriteTokens);
      if (reasoningTokens !== undefined)
        span.setAttribute(ATTR.genAiUsageReasoningOutputTokens, reasoningTokens);
    }
    return responseModel;
  }

  succeed(
    attempt: ProviderAttempt,
    responseModel: string,
    usage: { promptTokens: number; completionTokens?: number } | undefined,
  ): void {
    let answered = attempt.sets.answered.get(responseModel);
    if (!answered) {
      const duration = { ...attempt.sets.metric, [ATTR.genAiResponseModel]: responseModel };
      answered = {
        duration,
        input: { ...duration, [ATTR.genAiTokenType]: "input" },
        output: { ...duration, [ATTR.genAiTokenType]: "output" },
      };
      attempt.sets.answered.set(responseModel, answered);
    }
    const instruments = getInstruments();
    instruments.operationDuration.record((performance.now() - attempt.started) / 1000, answered.duration);
    if (usage) {
      instruments.tokenUsage.record(usage.promptTokens, answered.input);
      if (usage.completionTokens !== undefined)
        instruments.tokenUsage.record(usage.completionTokens, answered.output);
    }
    attempt.span.end();
  }

  fail(attempt: ProviderAttempt, error: unknown): void {
    const errorType =
      error instanceof UpstreamError ? error.failure : error instanceof Error ? error.name : "unknown";
    attempt.span.setAttribute(ATTR.errorType, errorType);
    attempt.span.setStatus({
      code: SpanStatusCode.ERROR,
      message: error instanceof Error ? error.message : errorType,
    });
    if (error instanceof Error) attempt.span.recordException(error);
    let failed = attempt.sets.failed.get(errorType);
    if (!failed) {
      failed = { ...attempt.sets.metric, [ATTR.errorType]: errorType };
      attempt.sets.failed.set(errorType, failed);
    }
    getInstruments().operationDuration.record((performance.now() - attempt.started) / 1000, failed);
    attempt.span.end();
  }

  private attributeSetsOf(operation: ProviderOperation, model: string): AttributeSets {
    const name = `${operation} ${model}`;
    let sets = this.attributeSets.get(name);
    if (!sets) {
      const metric: Attributes = {
        [ATTR.genAiOperationName]: operation,
        [ATTR.genAiProviderName]: this.providerName,
        [ATTR.genAiRequestModel]: model,
      };
      sets = { name, metric, span: { ...metric, ...this.server }, answered: new Map(), failed: new Map() };
      this.attributeSets.set(name, sets);
    }
    return sets;
  }
}

/** The request settings of a chat call as GenAI span attributes (only those the request sets). */
function requestSettingAttributes(request: CompleteChat, streamed: boolean): Attributes {
  const attributes: Attributes = { [ATTR.genAiRequestStream]: streamed };
  const maxTokens = request.max_tokens ?? request.max_completion_tokens;
  if (maxTokens !== undefined) attributes[ATTR.genAiRequestMaxTokens] = maxTokens;
  if (request.temperature !== undefined) attributes[ATTR.genAiRequestTemperature] = request.temperature;
  if (request.top_p !== undefined) attributes[ATTR.genAiRequestTopP] = request.top_p;
  if (request.presence_penalty !== undefined)
    attributes[ATTR.genAiRequestPresencePenalty] = request.presence_penalty;
  if (request.frequency_penalty !== undefined)
    attributes[ATTR.genAiRequestFrequencyPenalty] = request.frequency_penalty;
  if (request.seed !== undefined) attributes[ATTR.genAiRequestSeed] = request.seed;
  if (request.stop !== undefined)
    attributes[ATTR.genAiRequestStopSequences] =
      typeof request.stop === "string" ? [request.stop] : request.stop;
  const format = request.response_format?.type;
  if (format !== undefined) attributes[ATTR.genAiOutputType] = format === "text" ? "text" : "json";
  return attributes;
}
