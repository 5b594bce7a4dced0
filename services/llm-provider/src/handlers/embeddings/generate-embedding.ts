import { withinMs } from "../../shared/within-ms.js";
import { SPEND_RECORD_WAIT_MS } from "../../routing/caller-budgets.js";
import { LlmProviderError } from "@llm-provider/contracts";
import { DEFAULT_EMBEDDING_BATCH_SIZE, upstreamModelName } from "../../domain/catalog.js";
import { dedupeEmbeddingInputs } from "../../domain/embedding-batch.js";
import type { DedupedInputs } from "../../domain/embedding-batch.js";
import { createEmbeddingKeyDeriver } from "../../domain/embedding-key.js";
import { checkEmbeddingReplySize } from "../../domain/embedding-reply-size.js";
import { buildEmbeddingReply } from "./build-embedding-reply.js";
import type { EmbeddingReply } from "./build-embedding-reply.js";
import { createEmbeddingBatchComputer } from "./compute-embedding-batch.js";
import { EncodedReply } from "../../ports/request-handler.js";
import type { Handler, RequestContext } from "../../ports/request-handler.js";
import { encodeEmbeddingResult } from "./encode-embedding-result.js";
import { prepareEmbedding } from "./prepare-embedding.js";
import type { GenerateEmbeddingDeps, PreparedEmbedding } from "./prepare-embedding.js";
import { recordEmbeddingAnswer } from "./record-embedding-answer.js";
import { elapsedMs } from "../request-record.js";
import { spendRequestOf } from "../request-admission.js";
import { resolveEmbeddings } from "./resolve-embeddings.js";
import type { EmbeddingResolution } from "./resolve-embeddings.js";

export type { GenerateEmbeddingDeps } from "./prepare-embedding.js";

/** Upstream calls one request makes at once when its misses span several batches. */
export const MAX_PARALLEL_UPSTREAM_CALLS = 4;

/**
 * CMD-002: validate → POL-LLM-004 → resolve model and dimensions → policy gate → cache, then the
 * provider for the misses → record → EmbeddingResult in input order (or a typed error when it
 * would not fit in one NATS message).
 */
export function createGenerateEmbeddingHandler(deps: GenerateEmbeddingDeps): Handler {
  return async function generateEmbedding(body, context) {
    const prepared = await prepareEmbedding(body, context, deps);
    const { reply, attempts } = await computeReply(deps, prepared, context);
    const encoded = new EncodedReply(encodeEmbeddingResult(reply));
    const tooLarge = checkEmbeddingReplySize(
      encoded.bytes.length,
      prepared.inputs.length,
      prepared.maxReplyBytes,
      prepared.request.encoding_format,
    );
    // Tokens spent upstream are recorded even when the reply is refused: their cost is real.
    if (!tooLarge || reply.usage.prompt_tokens > 0)
      await recordEmbeddingAnswer(deps.events, reply, prepared.request, attempts, context, prepared.deadline);
    // The vectors are cached by now: the split retries this error asks for are cache hits.
    if (tooLarge) throw new LlmProviderError("payload_too_large", tooLarge.message, tooLarge);
    return encoded;
  };
}

/**
 * The same request for work done inside the process (a job's batch): every check, the cache, the
 * limits and the event, but no NATS reply to fit (a batch of large vectors may exceed one message)
 * and no encoding: the vectors stay `Float32Array`s.
 */
export function createEmbeddingComputer(
  deps: GenerateEmbeddingDeps,
): (body: unknown, context: RequestContext) => Promise<EmbeddingReply> {
  return async function computeEmbedding(body, context) {
    const prepared = await prepareEmbedding(body, context, deps, { fitReply: false });
    const { reply, attempts } = await computeReply(deps, prepared, context);
    await recordEmbeddingAnswer(deps.events, reply, prepared.request, attempts, context, prepared.deadline);
    return reply;
  };
}

/** The vectors, from the cache or upstream, with the caller's budget settled on what was spent. */
async function computeReply(
  deps: GenerateEmbeddingDeps,
  prepared: PreparedEmbedding,
  context: RequestContext,
): Promise<{ reply: EmbeddingReply; attempts: EmbeddingResolution["batches"][number]["attempts"] }> {
  const { deduped, resolution } = await resolveVectors(deps, prepared, context);
  // Only what went upstream counts (cache hits are free); a failed request keeps its estimate,
  // as providers count failed requests too.
  void deps.callerLimits.settle(context.caller, {
    estimatedTokens: prepared.estimatedTokens,
    actualTokens: resolution.batches.reduce((sum, batch) => sum + batch.countedTokens, 0),
    startedAt: prepared.admittedAt,
  });
  const reply = buildEmbeddingReply({
    request: prepared.request,
    requestId: context.requestId,
    dimensions: prepared.requirement.dimensions,
    deduped,
    resolution,
    latencyMs: elapsedMs(context),
  });
  // Counted before the reply goes out, so that the caller's next request sees it.
  await withinMs(
    deps.callerBudgets.record(context.caller, spendRequestOf(prepared.request), {
      usd: reply.usage.cost.total,
      tokens: reply.usage.total_tokens,
    }),
    SPEND_RECORD_WAIT_MS,
  );
  return { reply, attempts: resolution.batches.flatMap((batch) => batch.attempts) };
}

/**
 * The distinct inputs under their cache keys (scoped to the caller when the cache is), each
 * resolved from the cache or, for the misses, through routing along the prepared targets.
 */
async function resolveVectors(
  deps: GenerateEmbeddingDeps,
  prepared: PreparedEmbedding,
  context: RequestContext,
): Promise<{ deduped: DedupedInputs; resolution: EmbeddingResolution }> {
  const { model, requirement, targets, deadline } = prepared;
  const deriveKey = createEmbeddingKeyDeriver({
    model: model.model_name,
    upstreamModel: upstreamModelName(model),
    dimensions: requirement.dimensions,
    caller: deps.cacheScope === "caller" ? context.caller : undefined,
  });
  const deduped = dedupeEmbeddingInputs(prepared.inputs, prepared.inputs.map(deriveKey));
  const resolution = await resolveEmbeddings({
    keys: deduped.keys,
    texts: deduped.texts,
    cache: deps.cache,
    compute: createEmbeddingBatchComputer({
      clients: deps.clients,
      targets,
      chain: prepared.chain,
      requirement,
      request: prepared.request,
      deadline,
      trace: context.trace,
      health: deps.health,
    }),
    maxBatchSize: Math.min(
      ...targets.map((target) => target.model.max_batch_size ?? DEFAULT_EMBEDDING_BATCH_SIZE),
    ),
    maxParallelCalls: MAX_PARALLEL_UPSTREAM_CALLS,
    deadline,
    signal: context.signal,
  });
  return { deduped, resolution };
}
