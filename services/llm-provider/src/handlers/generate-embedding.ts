import {
  GenerateEmbeddingSchema,
  LlmProviderError,
  parseRequest,
  quoteValue,
  SUBJECTS,
} from "@llm-provider/contracts";
import type { Attempt, GenerateEmbedding } from "@llm-provider/contracts";
import { DEFAULT_EMBEDDING_BATCH_SIZE, planTargets, upstreamModelName } from "../domain/catalog.js";
import type { Catalog, ModelEntry } from "../domain/catalog.js";
import { dedupeEmbeddingInputs, estimateEmbeddingTokens } from "../domain/embedding-batch.js";
import { createEmbeddingKeyDeriver } from "../domain/embedding-key.js";
import {
  checkEmbeddingReplySize,
  minimumEmbeddingReplyBytes,
  typicalEmbeddingReplyBytes,
} from "../domain/embedding-reply-size.js";
import { canServeEmbedding, resolveEmbeddingRequirement } from "../domain/embedding-requirements.js";
import type { EmbeddingRequirement } from "../domain/embedding-requirements.js";
import { buildEmbeddingGenerated } from "../domain/events.js";
import { checkEmbeddingInputNonEmpty } from "../domain/policies.js";
import type { ProviderClient } from "../providers/port.js";
import { currentTraceparent } from "../telemetry/nats-trace-context.js";
import { recordRequestOutcome } from "../telemetry/record-request-outcome.js";
import { buildEmbeddingReply } from "./build-embedding-reply.js";
import type { EmbeddingReply } from "./build-embedding-reply.js";
import { createEmbeddingBatchComputer } from "./compute-embedding-batch.js";
import { EncodedReply } from "./context.js";
import { encodeEmbeddingResult } from "./encode-embedding-result.js";
import type { Handler, RequestContext } from "./context.js";
import type { CallerLimits } from "../routing/caller-limits.js";
import type { EmbeddingCache } from "./embedding-cache.js";
import type { EventSink } from "./event-sink.js";
import type { HealthRecorder } from "./health-recorder.js";
import type { PolicyGate } from "./policy-gate.js";
import { resolveEmbeddings } from "./resolve-embeddings.js";

/** Upstream calls one request makes at once when its misses span several batches. */
export const MAX_PARALLEL_UPSTREAM_CALLS = 4;
/** Bytes kept free of the server's max_payload for the reply's headers (NATS counts them in). */
const REPLY_HEADER_ALLOWANCE_BYTES = 512;

export interface GenerateEmbeddingDeps {
  catalog: () => Catalog;
  clients: ReadonlyMap<string, ProviderClient>;
  policyGate: PolicyGate;
  callerLimits: CallerLimits;
  cache: EmbeddingCache;
  /** `caller`: each calling context has vectors of its own (embedding_cache.scope). */
  cacheScope: "shared" | "caller";
  events: EventSink;
  /** Every upstream attempt, answered or not (ProviderHealth). */
  health: HealthRecorder;
  defaultTimeoutMs: number;
  /** The connected server's `max_payload`: no reply may be larger. */
  maxPayloadBytes: () => number;
}

/**
 * CMD-002: validate → POL-LLM-004 → resolve model and dimensions → policy gate → cache, then the
 * provider for the misses → record → EmbeddingResult in input order (or a typed error when it
 * would not fit in one NATS message).
 */
export function createGenerateEmbeddingHandler(deps: GenerateEmbeddingDeps): Handler {
  return async function generateEmbedding(body, context) {
    const request = parseRequest(GenerateEmbeddingSchema, body);
    const violation = checkEmbeddingInputNonEmpty(request.input);
    if (violation) {
      throw new LlmProviderError("invalid_request", violation.message, {
        field: violation.field,
        policy: violation.policy,
      });
    }
    const inputs = typeof request.input === "string" ? [request.input] : request.input;
    const catalog = deps.catalog();
    const { model, requirement } = resolveEmbeddingModel(catalog, request);
    const { targets, chain } = planTargets(catalog, model.model_name);
    const servable = targets.filter(
      (target) =>
        deps.clients.get(target.provider.id)?.generateEmbeddings !== undefined &&
        canServeEmbedding(target.model, requirement),
    );
    if (servable.length === 0) {
      throw new LlmProviderError(
        "upstream_unavailable",
        `no active provider can embed with model ${quoteValue(request.model)}`,
        {
          retryable: false,
        },
      );
    }

    const maxReplyBytes =
      deps.maxPayloadBytes() - REPLY_HEADER_ALLOWANCE_BYTES - Buffer.byteLength(context.requestId);
    const encoding = request.encoding_format;
    // Refused before anything is spent when even the smallest possible reply is too large; the
    // advice then comes from a realistic size, so that the split it suggests fits.
    if (minimumEmbeddingReplyBytes(inputs.length, requirement.dimensions, encoding) > maxReplyBytes) {
      const typical = typicalEmbeddingReplyBytes(
        inputs.length,
        requirement.dimensions,
        encoding,
        model.model_name,
      );
      const tooLarge = checkEmbeddingReplySize(typical, inputs.length, maxReplyBytes, encoding)!;
      throw new LlmProviderError("payload_too_large", tooLarge.message, tooLarge);
    }

    const deadline = context.receivedAt + (request.timeout_ms ?? deps.defaultTimeoutMs);
    const estimatedTokens = estimateEmbeddingTokens(inputs);
    const startedAt = Date.now();
    await deps.callerLimits.admit(context.caller, estimatedTokens);
    await deps.policyGate.check({
      deadline,
      requestId: context.requestId,
      caller: context.caller,
      operation: "embedding",
      model: model.model_name,
      providerId: model.provider_id,
      estimatedTokens,
      trace: context.trace,
    });

    const deriveKey = createEmbeddingKeyDeriver({
      model: model.model_name,
      upstreamModel: upstreamModelName(model),
      dimensions: requirement.dimensions,
      caller: deps.cacheScope === "caller" ? context.caller : undefined,
    });
    const deduped = dedupeEmbeddingInputs(inputs, inputs.map(deriveKey));
    const resolution = await resolveEmbeddings({
      keys: deduped.keys,
      texts: deduped.texts,
      cache: deps.cache,
      compute: createEmbeddingBatchComputer({
        clients: deps.clients,
        targets: servable,
        chain,
        requirement,
        request,
        deadline,
        trace: context.trace,
        health: deps.health,
      }),
      maxBatchSize: Math.min(
        ...servable.map((target) => target.model.max_batch_size ?? DEFAULT_EMBEDDING_BATCH_SIZE),
      ),
      maxParallelCalls: MAX_PARALLEL_UPSTREAM_CALLS,
      deadline,
      signal: context.signal,
    });
    // Only what went upstream counts (cache hits are free); a failed request keeps its estimate,
    // as providers count failed requests too.
    void deps.callerLimits.settle(context.caller, {
      estimatedTokens,
      actualTokens: resolution.batches.reduce((sum, batch) => sum + batch.countedTokens, 0),
      startedAt,
    });

    const reply = buildEmbeddingReply({
      request,
      requestId: context.requestId,
      dimensions: requirement.dimensions,
      deduped,
      resolution,
      latencyMs: elapsedMs(context),
    });
    const encoded = new EncodedReply(encodeEmbeddingResult(reply));
    const tooLarge = checkEmbeddingReplySize(encoded.bytes.length, inputs.length, maxReplyBytes, encoding);
    // Tokens spent upstream are recorded even when the reply is refused: their cost is real.
    if (!tooLarge || reply.usage.prompt_tokens > 0) {
      await record(
        deps,
        reply,
        request,
        resolution.batches.flatMap((batch) => batch.attempts),
        context,
        deadline,
      );
    }
    // The vectors are cached by now: the split retries this error asks for are cache hits.
    if (tooLarge) throw new LlmProviderError("payload_too_large", tooLarge.message, tooLarge);
    return encoded;
  };
}

/** The requested model must exist, embed, and honour the requested dimensions. */
function resolveEmbeddingModel(
  catalog: Catalog,
  request: GenerateEmbedding,
): { model: ModelEntry; requirement: EmbeddingRequirement } {
  const model = catalog.models.get(request.model);
  if (!model) {
    throw new LlmProviderError("unknown_model", `model ${quoteValue(request.model)} is not configured`, {
      field: "model",
    });
  }
  const resolved = resolveEmbeddingRequirement(model, request.dimensions);
  if ("mismatch" in resolved) {
    const { kind, message, field } = resolved.mismatch;
    throw new LlmProviderError(kind, message, { field });
  }
  return { model, requirement: resolved.requirement };
}

/** Event, span attributes, metrics and the log line of an answered request; settles once the event is stored. */
async function record(
  deps: GenerateEmbeddingDeps,
  result: EmbeddingReply,
  request: GenerateEmbedding,
  attempts: Attempt[],
  context: RequestContext,
  deadline: number,
): Promise<void> {
  const cachedCount = result.data.filter((item) => item.cached).length;
  recordRequestOutcome(context.trace, {
    operation: "embeddings",
    caller: context.caller,
    model: result.model,
    providerId: result.provider_id,
    costUsd: result.usage.cost.total,
    attempts,
    cacheHit: cachedCount === result.data.length,
    cacheLookups: { hits: cachedCount, misses: result.data.length - cachedCount },
  });
  // Time and trace context now; the event itself is built when it is published.
  const eventContext = {
    requestId: context.requestId,
    caller: context.caller,
    time: new Date(),
    traceparent: currentTraceparent(context.trace) ?? context.traceparent,
    includeContent: false,
  };
  const stored = deps.events.emit(
    SUBJECTS.embeddingGeneratedEvent,
    () => buildEmbeddingGenerated(result, request, eventContext),
    deadline,
  );
  // A request served wholly from the cache is the hot path: its line is debug (the event records
  // it anyway); a synchronous log write costs more than the rest of a hit.
  const level = cachedCount === result.data.length ? "debug" : "info";
  context.log[level](
    {
      request_id: context.requestId,
      model: result.model,
      provider_id: result.provider_id,
      items: result.data.length,
      cached: cachedCount,
      prompt_tokens: result.usage.prompt_tokens,
      cost_usd: result.usage.cost.total,
      latency_ms: result.latency_ms,
    },
    "embeddings generated",
  );
  await stored;
}

function elapsedMs(context: RequestContext): number {
  return Math.round((performance.now() - context.receivedAt) * 1000) / 1000;
}
