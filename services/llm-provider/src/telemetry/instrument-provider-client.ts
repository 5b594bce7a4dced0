import type { ProviderSpec } from "../domain/catalog.js";
import { UpstreamError } from "../domain/failure.js";
import type { ChatCall, ChatStreamPart, EmbeddingCall, ProviderClient } from "../ports/provider-client.js";
import { ProviderAttemptTelemetry } from "./provider-attempt-telemetry.js";
import { ATTR } from "./semconv.js";

/**
 * Wraps a provider client so every upstream attempt is a CLIENT span named and attributed per the
 * GenAI conventions (`chat {model}`, `embeddings {model}`), and feeds the token-usage and duration
 * metrics. Routing and wires stay unaware of telemetry.
 */
export function instrumentProviderClient(client: ProviderClient, provider: ProviderSpec): ProviderClient {
  const telemetry = new ProviderAttemptTelemetry(provider);
  const instrumented: ProviderClient = {
    providerId: client.providerId,
    async completeChat(call) {
      const attempt = telemetry.startChat(call, false);
      try {
        const outcome = await client.completeChat(call);
        const responseModel = telemetry.annotateChat(attempt.span, outcome, call.upstreamModel);
        telemetry.succeed(attempt, responseModel, outcome.usage);
        return outcome;
      } catch (error) {
        telemetry.fail(attempt, error);
        throw error;
      }
    },
  };
  if (client.streamChat) instrumented.streamChat = instrumentStreamChat(client, telemetry);
  if (client.generateEmbeddings)
    instrumented.generateEmbeddings = instrumentGenerateEmbeddings(client, telemetry);
  return instrumented;
}

/** `streamChat` of `client`, its attempt's span ended by the stream's end, failure or abandonment. */
function instrumentStreamChat(
  client: ProviderClient,
  telemetry: ProviderAttemptTelemetry,
): (call: ChatCall) => AsyncGenerator<ChatStreamPart> {
  return async function* instrumentedStreamChat(call: ChatCall): AsyncGenerator<ChatStreamPart> {
    const attempt = telemetry.startChat(call, true);
    let ended = false;
    let chunks = 0;
    try {
      for await (const part of client.streamChat!(call)) {
        if (part.type === "delta" && chunks++ === 0) telemetry.firstChunk(attempt);
        if (part.type === "end") {
          ended = true;
          const responseModel = telemetry.annotateChat(attempt.span, part.end, call.upstreamModel);
          telemetry.succeed(attempt, responseModel, part.end.usage);
        }
        yield part;
      }
      if (!ended)
        telemetry.fail(attempt, new UpstreamError("connection", "stream ended before the provider finished"));
    } catch (error) {
      if (!ended) telemetry.fail(attempt, error);
      throw error;
    } finally {
      // The consumer stopped early (cancel, stall): the span still ends, as abandoned.
      if (!ended && attempt.span.isRecording()) telemetry.fail(attempt, new Error("stream abandoned"));
    }
  };
}

/** `generateEmbeddings` of `client`, with the vectors' dimension count on its attempt's span. */
function instrumentGenerateEmbeddings(
  client: ProviderClient,
  telemetry: ProviderAttemptTelemetry,
): NonNullable<ProviderClient["generateEmbeddings"]> {
  return async function instrumentedGenerateEmbeddings(call: EmbeddingCall) {
    const attempt = telemetry.start("embeddings", call.upstreamModel, call.trace);
    try {
      const outcome = await client.generateEmbeddings!(call);
      const dimensions = outcome.vectors[0]?.length;
      if (dimensions !== undefined) attempt.span.setAttribute(ATTR.genAiEmbeddingsDimensionCount, dimensions);
      if (outcome.usage) attempt.span.setAttribute(ATTR.genAiUsageInputTokens, outcome.usage.promptTokens);
      telemetry.succeed(attempt, outcome.responseModel ?? call.upstreamModel, outcome.usage);
      return outcome;
    } catch (error) {
      telemetry.fail(attempt, error);
      throw error;
    }
  };
}
