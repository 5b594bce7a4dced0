import { base64ByteLength, parseDataUrl, SUBJECTS } from "@llm-provider/contracts";
import { hashParts } from "./hash-parts.js";
import { tagOf } from "./budgets.js";
import type { BudgetReached } from "./budgets.js";
import type {
  Attempt,
  ChatCompleted,
  ChatMessage,
  ContentPart,
  ChatCompletion,
  ChatFailed,
  CompleteChat,
  EmbeddingGenerated,
  EmbeddingResult,
  ErrorCode,
  GenerateEmbedding,
  ProviderHealthChanged,
  BudgetThresholdReached,
} from "@llm-provider/contracts";

/**
 * Event id from the event type and what identifies its cause — for a request, the caller and its
 * request id: a caller that retries with the same request id produces the same id, and JetStream
 * (which uses it as `Nats-Msg-Id`) keeps only one; another caller's request id, equal or chosen to
 * collide, never does. `evt_` and the first 128 bits of the SHA-256 of the parts joined by NUL
 * (which neither callers nor request ids contain), so no caller can steer a collision.
 */
export function deriveEventId(type: string, ...parts: string[]): string {
  return `evt_${hashParts([type, ...parts]).slice(0, 32)}`;
}

export interface EventContext {
  requestId: string;
  /** The calling bounded context (see RequestContext.caller). */
  caller: string;
  time: Date;
  traceparent?: string | undefined;
  /** Copy prompt and answer into the event (events.include_content). */
  includeContent: boolean;
}

/**
 * The envelope around `data`, as object literals: spreading an envelope into the event (and an
 * optional `traceparent` into the envelope) took most of the CPU a builder used. Two literals
 * rather than an undefined `traceparent`, which would put JSON.stringify on its slow path.
 */
function withEnvelope<T extends string, D>(type: T, context: EventContext, data: D) {
  const { requestId, caller, traceparent } = context;
  const id = deriveEventId(type, caller, requestId);
  const time = context.time.toISOString();
  const source = "llm-provider" as const;
  return traceparent
    ? { id, type, source, time, request_id: requestId, caller, traceparent, data }
    : { id, type, source, time, request_id: requestId, caller, data };
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
    data.messages = request.messages.map(withoutInlineMedia);
    data.content = completion.content;
  }
  return withEnvelope(SUBJECTS.chatCompletedEvent, context, data);
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
  return withEnvelope(SUBJECTS.chatFailedEvent, context, data);
}

/**
 * Published whenever vectors were produced or served, with the input references (keys), never the
 * texts. `count` counts the request's inputs, `cached_count` those answered from the cache.
 */
export function buildEmbeddingGenerated(
  result: Pick<EmbeddingResult, "model" | "provider_id" | "usage" | "latency_ms"> & {
    data: readonly Pick<EmbeddingResult["data"][number], "cached" | "dimensions" | "input_ref">[];
  },
  request: GenerateEmbedding,
  context: EventContext,
): EmbeddingGenerated {
  let cachedCount = 0;
  for (const item of result.data) if (item.cached) cachedCount++;
  const data: EmbeddingGenerated["data"] = {
    model: result.model,
    provider_id: result.provider_id,
    count: result.data.length,
    cached_count: cachedCount,
    // POL-LLM-004 guarantees at least one input.
    dimensions: result.data[0]!.dimensions,
    input_refs: result.data.map((item) => item.input_ref),
    usage: { prompt_tokens: result.usage.prompt_tokens, cost: result.usage.cost },
    latency_ms: result.latency_ms,
  };
  if (request.metadata) data.metadata = request.metadata;
  return withEnvelope(SUBJECTS.embeddingGeneratedEvent, context, data);
}

/** A breaker transition as an event; its id is the same whichever worker would report it. */
export function buildProviderHealthChanged(change: {
  providerId: string;
  upstreamModel: string;
  from: ProviderHealthChanged["data"]["from"];
  to: ProviderHealthChanged["data"]["to"];
  changedAt: number;
  retryAfterMs: number;
}): ProviderHealthChanged {
  const type = SUBJECTS.providerHealthChangedEvent;
  return {
    id: deriveEventId(type, change.providerId, change.upstreamModel, change.to, String(change.changedAt)),
    type,
    source: "llm-provider",
    time: new Date(change.changedAt).toISOString(),
    data: {
      provider_id: change.providerId,
      upstream_model: change.upstreamModel,
      from: change.from,
      to: change.to,
      is_available: change.to === "closed",
      retry_after_ms: change.retryAfterMs,
    },
  };
}

/** A budget's threshold reached, as an event; its id is the same whichever worker would report it. */
export function buildBudgetThresholdReached(reached: BudgetReached, at: number): BudgetThresholdReached {
  const type = SUBJECTS.budgetThresholdReachedEvent;
  const { caller, index, budget, periodStart, threshold, spent } = reached;
  const data: BudgetThresholdReached["data"] = {
    budget: index,
    period: budget.period,
    period_start: periodStart,
    threshold_percent: threshold,
    spent: { usd: spent.usd, tokens: spent.tokens },
    limit: {
      ...(budget.usd === undefined ? {} : { usd: budget.usd }),
      ...(budget.tokens === undefined ? {} : { tokens: budget.tokens }),
    },
  };
  if (budget.model !== undefined) data.model = budget.model;
  if (budget.metadata !== undefined) data.metadata = { ...budget.metadata };
  return {
    id: deriveEventId(
      type,
      caller,
      budget.period,
      periodStart,
      String(index),
      budget.model ?? "",
      String(threshold),
      // A tagged budget's own count, so that an edited budget list cannot reuse an announced id.
      ...(budget.metadata === undefined ? [] : [tagOf(budget.metadata)]),
    ),
    type,
    source: "llm-provider",
    time: new Date(at).toISOString(),
    caller,
    data,
  };
}

/**
 * A prompt message as events carry it: base64 images and files become a text part saying what
 * was there, so an event stays far below the size of the request it describes (a request near
 * max_payload would otherwise make an event JetStream cannot store).
 */
function withoutInlineMedia(message: ChatMessage): ChatMessage {
  if (!Array.isArray(message.content)) return message;
  return { ...message, content: message.content.map(withoutInlineData) };
}

function withoutInlineData(part: ContentPart): ContentPart {
  const url =
    part.type === "image_url" ? part.image_url.url : part.type === "file" ? part.file.file_data : undefined;
  const data = url === undefined ? undefined : parseDataUrl(url);
  if (data === undefined) return part;
  const bytes = base64ByteLength(data.base64).toLocaleString("en");
  return { type: "text", text: `[${data.mediaType}, ${bytes} bytes: not copied into events]` };
}
