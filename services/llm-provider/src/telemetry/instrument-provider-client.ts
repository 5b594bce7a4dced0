import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { Attributes } from "@opentelemetry/api";
import type { ProviderSpec } from "../domain/catalog.js";
import { UpstreamError } from "../domain/failure.js";
import type { ChatCall, ChatOutcome, ProviderClient } from "../providers/port.js";
import { getInstruments } from "./instruments.js";
import { ATTR, genAiProviderName, SCOPE } from "./semconv.js";

/**
 * Wraps a provider client so every upstream attempt is a CLIENT span named and attributed per the
 * GenAI conventions, and feeds the token-usage and duration metrics. Routing and wires stay unaware.
 */
export function instrumentProviderClient(client: ProviderClient, provider: ProviderSpec): ProviderClient {
  const tracer = trace.getTracer(SCOPE);
  const providerName = genAiProviderName(provider.provider_type);
  const endpoint = new URL(provider.endpoint);
  const server = {
    [ATTR.serverAddress]: endpoint.hostname,
    [ATTR.serverPort]: Number(endpoint.port || (endpoint.protocol === "https:" ? 443 : 80)),
  };

  return {
    providerId: client.providerId,
    async completeChat(call: ChatCall): Promise<ChatOutcome> {
      const metricAttributes: Attributes = {
        [ATTR.genAiOperationName]: "chat",
        [ATTR.genAiProviderName]: providerName,
        [ATTR.genAiRequestModel]: call.upstreamModel,
      };
      const span = tracer.startSpan(`chat ${call.upstreamModel}`, {
        kind: SpanKind.CLIENT,
        attributes: {
          ...metricAttributes,
          ...server,
          [ATTR.providerId]: provider.id,
          ...(call.request.max_tokens !== undefined
            ? { [ATTR.genAiRequestMaxTokens]: call.request.max_tokens }
            : {}),
          ...(call.request.temperature !== undefined
            ? { [ATTR.genAiRequestTemperature]: call.request.temperature }
            : {}),
        },
      });
      const started = performance.now();
      const instruments = getInstruments();
      try {
        const outcome = await client.completeChat(call);
        const responseModel = outcome.responseModel ?? call.upstreamModel;
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
        const attributes = { ...metricAttributes, [ATTR.genAiResponseModel]: responseModel };
        instruments.operationDuration.record((performance.now() - started) / 1000, attributes);
        if (outcome.usage) {
          instruments.tokenUsage.record(outcome.usage.promptTokens, {
            ...attributes,
            [ATTR.genAiTokenType]: "input",
          });
          instruments.tokenUsage.record(outcome.usage.completionTokens, {
            ...attributes,
            [ATTR.genAiTokenType]: "output",
          });
        }
        return outcome;
      } catch (error) {
        const errorType =
          error instanceof UpstreamError ? error.failure : error instanceof Error ? error.name : "unknown";
        span.setAttribute(ATTR.errorType, errorType);
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: error instanceof Error ? error.message : errorType,
        });
        if (error instanceof Error) span.recordException(error);
        instruments.operationDuration.record((performance.now() - started) / 1000, {
          ...metricAttributes,
          [ATTR.errorType]: errorType,
        });
        throw error;
      } finally {
        span.end();
      }
    },
  };
}
