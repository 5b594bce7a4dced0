import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { Attributes, Context, Span } from "@opentelemetry/api";
import type { ProviderSpec } from "../domain/catalog.js";
import { UpstreamError } from "../domain/failure.js";
import type {
  ChatCall,
  ChatOutcome,
  ChatStreamPart,
  EmbeddingCall,
  ProviderClient,
} from "../ports/provider-client.js";
import { getInstruments } from "./instruments.js";
import { ATTR, genAiProviderName, SCOPE } from "./semconv.js";

/**
 * Wraps a provider client so every upstream attempt is a CLIENT span named and attributed per the
 * GenAI conventions (`chat {model}`, `embeddings {model}`), and feeds the token-usage and duration
 * metrics. Routing and wires stay unaware of telemetry.
 */
export function instrumentProviderClient(client: ProviderClient, provider: ProviderSpec): ProviderClient {
  const tracer = trace.getTracer(SCOPE);
  const providerName = genAiProviderName(provider.provider_type);
  const endpoint = new URL(provider.endpoint);
  const server = {
    [ATTR.serverAddress]: endpoint.hostname,
    [ATTR.serverPort]: Number(endpoint.port || (endpoint.protocol === "https:" ? 443 : 80)),
    [ATTR.providerId]: provider.id,
  };
  // Attribute sets per operation and model, built once: the SDK copies span attributes and
  // hashes metric attributes on every call anyway, and a fresh object per call is garbage.
  // Bounded: the models are the configured ones (response models, the few each answers as).
  const attributeSets = new Map<string, AttributeSets>();

  function attributeSetsOf(operation: "chat" | "embeddings", model: string): AttributeSets {
    const name = `${operation} ${model}`;
    let sets = attributeSets.get(name);
    if (!sets) {
      const metric: Attributes = {
        [ATTR.genAiOperationName]: operation,
        [ATTR.genAiProviderName]: providerName,
        [ATTR.genAiRequestModel]: model,
      };
      sets = { name, metric, span: { ...metric, ...server }, answered: new Map(), failed: new Map() };
      attributeSets.set(name, sets);
    }
    return sets;
  }

  function start(operation: "chat" | "embeddings", model: string, parent: Context | undefined) {
    const sets = attributeSetsOf(operation, model);
    const span = tracer.startSpan(
      sets.name,
      { kind: SpanKind.CLIENT, attributes: sets.span },
      parent ?? ROOT_CONTEXT,
    );
    return { span, sets, started: performance.now() };
  }

  function succeed(
    attempt: ReturnType<typeof start>,
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

  function fail(attempt: ReturnType<typeof start>, error: unknown): void {
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

  function startChat(call: ChatCall) {
    const attempt = start("chat", call.upstreamModel, call.trace);
    const { max_tokens, temperature } = call.request;
    if (max_tokens !== undefined) attempt.span.setAttribute(ATTR.genAiRequestMaxTokens, max_tokens);
    if (temperature !== undefined) attempt.span.setAttribute(ATTR.genAiRequestTemperature, temperature);
    return attempt;
  }

  function annotateChat(span: Span, outcome: Omit<ChatOutcome, "content">, model: string): string {
    const responseModel = outcome.responseModel ?? model;
    span.setAttribute(ATTR.genAiResponseModel, responseModel);
    span.setAttribute(ATTR.genAiResponseFinishReasons, [outcome.rawFinishReason ?? outcome.finishReason]);
    if (outcome.upstreamId) span.setAttribute(ATTR.genAiResponseId, outcome.upstreamId);
    if (outcome.usage) {
      span.setAttribute(ATTR.genAiUsageInputTokens, outcome.usage.promptTokens);
      span.setAttribute(ATTR.genAiUsageOutputTokens, outcome.usage.completionTokens);
    }
    return responseModel;
  }

  const instrumented: ProviderClient = {
    providerId: client.providerId,
    async completeChat(call) {
      const attempt = startChat(call);
      try {
        const outcome = await client.completeChat(call);
        succeed(attempt, annotateChat(attempt.span, outcome, call.upstreamModel), outcome.usage);
        return outcome;
      } catch (error) {
        fail(attempt, error);
        throw error;
      }
    },
  };

  if (client.streamChat) {
    instrumented.streamChat = async function* (call: ChatCall): AsyncGenerator<ChatStreamPart> {
      const attempt = startChat(call);
      let ended = false;
      try {
        for await (const part of client.streamChat!(call)) {
          if (part.type === "end") {
            ended = true;
            succeed(attempt, annotateChat(attempt.span, part.end, call.upstreamModel), part.end.usage);
          }
          yield part;
        }
        if (!ended)
          fail(attempt, new UpstreamError("connection", "stream ended before the provider finished"));
      } catch (error) {
        if (!ended) fail(attempt, error);
        throw error;
      } finally {
        // The consumer stopped early (cancel, stall): the span still ends, as abandoned.
        if (!ended && attempt.span.isRecording()) fail(attempt, new Error("stream abandoned"));
      }
    };
  }
  if (client.generateEmbeddings) {
    instrumented.generateEmbeddings = async (call: EmbeddingCall) => {
      const attempt = start("embeddings", call.upstreamModel, call.trace);
      try {
        const outcome = await client.generateEmbeddings!(call);
        const dimensions = outcome.vectors[0]?.length;
        if (dimensions !== undefined)
          attempt.span.setAttribute(ATTR.genAiEmbeddingsDimensionCount, dimensions);
        if (outcome.usage) attempt.span.setAttribute(ATTR.genAiUsageInputTokens, outcome.usage.promptTokens);
        succeed(attempt, outcome.responseModel ?? call.upstreamModel, outcome.usage);
        return outcome;
      } catch (error) {
        fail(attempt, error);
        throw error;
      }
    };
  }
  return instrumented;
}

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
