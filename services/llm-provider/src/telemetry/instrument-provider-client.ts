import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { Attributes, Span } from "@opentelemetry/api";
import type { ProviderSpec } from "../domain/catalog.js";
import { UpstreamError } from "../domain/failure.js";
import type {
  ChatCall,
  ChatOutcome,
  ChatStreamPart,
  EmbeddingCall,
  ProviderClient,
} from "../providers/port.js";
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

  function start(operation: "chat" | "embeddings", model: string, extra: Attributes = {}) {
    const metricAttributes: Attributes = {
      [ATTR.genAiOperationName]: operation,
      [ATTR.genAiProviderName]: providerName,
      [ATTR.genAiRequestModel]: model,
    };
    const span = tracer.startSpan(`${operation} ${model}`, {
      kind: SpanKind.CLIENT,
      attributes: { ...metricAttributes, ...server, ...extra },
    });
    return { span, metricAttributes, started: performance.now() };
  }

  function succeed(
    attempt: ReturnType<typeof start>,
    responseModel: string,
    usage: { promptTokens: number; completionTokens?: number } | undefined,
  ): void {
    const attributes = { ...attempt.metricAttributes, [ATTR.genAiResponseModel]: responseModel };
    const instruments = getInstruments();
    instruments.operationDuration.record((performance.now() - attempt.started) / 1000, attributes);
    if (usage) {
      instruments.tokenUsage.record(usage.promptTokens, { ...attributes, [ATTR.genAiTokenType]: "input" });
      if (usage.completionTokens !== undefined) {
        instruments.tokenUsage.record(usage.completionTokens, {
          ...attributes,
          [ATTR.genAiTokenType]: "output",
        });
      }
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
    getInstruments().operationDuration.record((performance.now() - attempt.started) / 1000, {
      ...attempt.metricAttributes,
      [ATTR.errorType]: errorType,
    });
    attempt.span.end();
  }

  function chatAttributes(call: ChatCall): Attributes {
    return {
      ...(call.request.max_tokens !== undefined
        ? { [ATTR.genAiRequestMaxTokens]: call.request.max_tokens }
        : {}),
      ...(call.request.temperature !== undefined
        ? { [ATTR.genAiRequestTemperature]: call.request.temperature }
        : {}),
    };
  }

  function annotateChat(span: Span, outcome: Omit<ChatOutcome, "content">, model: string): string {
    const responseModel = outcome.responseModel ?? model;
    span.setAttributes({
      [ATTR.genAiResponseModel]: responseModel,
      [ATTR.genAiResponseFinishReasons]: [outcome.rawFinishReason ?? outcome.finishReason],
      ...(outcome.upstreamId ? { [ATTR.genAiResponseId]: outcome.upstreamId } : {}),
      ...(outcome.usage
        ? {
            [ATTR.genAiUsageInputTokens]: outcome.usage.promptTokens,
            [ATTR.genAiUsageOutputTokens]: outcome.usage.completionTokens,
          }
        : {}),
    });
    return responseModel;
  }

  const instrumented: ProviderClient = {
    providerId: client.providerId,
    async completeChat(call) {
      const attempt = start("chat", call.upstreamModel, chatAttributes(call));
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
      const attempt = start("chat", call.upstreamModel, chatAttributes(call));
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
      const attempt = start("embeddings", call.upstreamModel);
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
