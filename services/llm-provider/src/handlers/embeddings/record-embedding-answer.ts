import { SUBJECTS } from "@llm-provider/contracts";
import type { Attempt, GenerateEmbedding } from "@llm-provider/contracts";
import { buildEmbeddingGenerated } from "../../domain/events.js";
import { recordRequestOutcome } from "../../telemetry/record-request-outcome.js";
import type { EmbeddingReply } from "./build-embedding-reply.js";
import type { RequestContext } from "../../ports/request-handler.js";
import type { EventSink } from "../../ports/event-sink.js";
import { eventContextOf } from "../request-record.js";

/**
 * An answered embedding request: span attributes and metrics, the `embedding_generated` event and
 * the log line. Resolves once the event is stored (as `events.delivery` says).
 */
export async function recordEmbeddingAnswer(
  events: EventSink,
  reply: EmbeddingReply,
  request: GenerateEmbedding,
  attempts: Attempt[],
  context: RequestContext,
  deadline: number,
): Promise<void> {
  const cachedCount = reply.data.filter((item) => item.cached).length;
  recordRequestOutcome(context.trace, {
    operation: "embeddings",
    caller: context.caller,
    model: reply.model,
    providerId: reply.provider_id,
    costUsd: reply.usage.cost.total,
    attempts,
    cacheHit: cachedCount === reply.data.length,
    cacheLookups: { hits: cachedCount, misses: reply.data.length - cachedCount },
  });
  // Time and trace context now; the event itself is built when it is published.
  const eventContext = eventContextOf(context, false);
  const stored = events.emit(
    SUBJECTS.embeddingGeneratedEvent,
    () => buildEmbeddingGenerated(reply, request, eventContext),
    deadline,
  );
  // A request served wholly from the cache is the hot path: its line is debug (the event records
  // it anyway); a synchronous log write costs more than the rest of a hit.
  const level = cachedCount === reply.data.length ? "debug" : "info";
  context.log[level](
    {
      request_id: context.requestId,
      model: reply.model,
      provider_id: reply.provider_id,
      items: reply.data.length,
      cached: cachedCount,
      prompt_tokens: reply.usage.prompt_tokens,
      cost_usd: reply.usage.cost.total,
      latency_ms: reply.latency_ms,
    },
    "embeddings generated",
  );
  await stored;
}
