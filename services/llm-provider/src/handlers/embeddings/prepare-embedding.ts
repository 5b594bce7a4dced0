import { GenerateEmbeddingSchema, LlmProviderError, parseRequest } from "@llm-provider/contracts";
import type { GenerateEmbedding } from "@llm-provider/contracts";
import { planTargets, skipTargetWhen } from "../../domain/catalog.js";
import type { Catalog, FallbackChain, ModelEntry, PlannedTarget, TargetSkip } from "../../domain/catalog.js";
import { estimateEmbeddingTokens } from "../../domain/embedding-batch.js";
import {
  checkEmbeddingReplySize,
  minimumEmbeddingReplyBytes,
  typicalEmbeddingReplyBytes,
} from "../../domain/embedding-reply-size.js";
import { embeddingMismatchOf, resolveEmbeddingRequirement } from "../../domain/embedding-requirements.js";
import type { EmbeddingRequirement } from "../../domain/embedding-requirements.js";
import { checkEmbeddingInputNonEmpty } from "../../domain/policies.js";
import type { RequestContext } from "../../ports/request-handler.js";
import type { EmbeddingCache } from "../../ports/embedding-cache.js";
import {
  admitRequest,
  configuredModel,
  deadlineOf,
  clientSkipOf,
  refuseViolation,
  requireCallable,
} from "../request-admission.js";
import type { UpstreamRequestDeps } from "../request-admission.js";
import { REPLAYED_MARKER_MAX_BYTES } from "../../domain/idempotency.js";

/** Bytes kept free of the server's max_payload for the reply's headers (NATS counts them in). */
const REPLY_HEADER_ALLOWANCE_BYTES = 512;

export interface GenerateEmbeddingDeps extends UpstreamRequestDeps {
  cache: EmbeddingCache;
  /** `caller`: each calling context has vectors of its own (embedding_cache.scope). */
  cacheScope: "shared" | "caller";
  /** The connected server's `max_payload`: no reply may be larger. */
  maxPayloadBytes: () => number;
}

/** An embedding request that passed every check and may go to the cache and upstream. */
export interface PreparedEmbedding {
  request: GenerateEmbedding;
  /** The input as a list (one text or a batch), in input order. */
  inputs: string[];
  model: ModelEntry;
  requirement: EmbeddingRequirement;
  /** Targets whose client embeds and whose model serves the requirement, in fallback order. */
  /** Every target of the chain in order, those that cannot embed this request marked skipped. */
  targets: PlannedTarget[];
  chain: FallbackChain | undefined;
  deadline: number;
  /** The largest reply that fits in one NATS message (unbounded when there is no message to fit). */
  maxReplyBytes: number;
  /** What the caller's budget was charged with, and when (`Date.now()`): settled with the real count. */
  estimatedTokens: number;
  admittedAt: number;
}

/**
 * Everything before the cache and the provider: schema, POL-LLM-004, model and dimensions, the
 * targets that can embed, a reply that can fit at all, the deadline, the caller's budget and the
 * Policy Gateway.
 */
export async function prepareEmbedding(
  body: unknown,
  context: RequestContext,
  deps: GenerateEmbeddingDeps,
  options: { fitReply: boolean } = { fitReply: true },
): Promise<PreparedEmbedding> {
  const request = parseRequest(GenerateEmbeddingSchema, body);
  refuseViolation(checkEmbeddingInputNonEmpty(request.input));
  const inputs = typeof request.input === "string" ? [request.input] : request.input;
  const catalog = deps.catalog();
  const { model, requirement } = resolveEmbeddingModel(catalog, request);
  const { targets: planned, chain } = planTargets(catalog, model.model_name, deps.balancer.orderFor(catalog));
  const targets = requireCallable(
    planned.map((target) => skipTargetWhen(target, embeddingSkipOf(deps, target, requirement))),
    request.model,
  );
  // Room for the marker a replay adds, so that a stored reply can always be sent again.
  const maxReplyBytes = options.fitReply
    ? deps.maxPayloadBytes() -
      REPLY_HEADER_ALLOWANCE_BYTES -
      REPLAYED_MARKER_MAX_BYTES -
      Buffer.byteLength(context.requestId)
    : Number.POSITIVE_INFINITY;
  refuseUnfittableReply(request, inputs.length, requirement, model, maxReplyBytes);

  const deadline = deadlineOf(context, request.timeout_ms, deps.defaultTimeoutMs);
  const estimatedTokens = estimateEmbeddingTokens(inputs);
  const admittedAt = await admitRequest(deps, context, {
    deadline,
    operation: "embedding",
    model: model.model_name,
    providerId: model.provider_id,
    estimatedTokens,
    metadata: request.metadata,
  });
  return {
    request,
    inputs,
    model,
    requirement,
    targets,
    chain,
    deadline,
    maxReplyBytes,
    estimatedTokens,
    admittedAt,
  };
}

/** The requested model must exist, embed, and honour the requested dimensions. */
function resolveEmbeddingModel(
  catalog: Catalog,
  request: GenerateEmbedding,
): { model: ModelEntry; requirement: EmbeddingRequirement } {
  const model = configuredModel(catalog, request.model);
  const resolved = resolveEmbeddingRequirement(model, request.dimensions);
  if ("mismatch" in resolved) {
    const { kind, message, field } = resolved.mismatch;
    throw new LlmProviderError(kind, message, { field });
  }
  return { model, requirement: resolved.requirement };
}

/**
 * Refused before anything is spent when even the smallest possible reply is too large; the advice
 * then comes from a realistic size, so that the split it suggests fits.
 */
function refuseUnfittableReply(
  request: GenerateEmbedding,
  inputCount: number,
  requirement: EmbeddingRequirement,
  model: ModelEntry,
  maxReplyBytes: number,
): void {
  const encoding = request.encoding_format;
  if (minimumEmbeddingReplyBytes(inputCount, requirement.dimensions, encoding) <= maxReplyBytes) return;
  const typical = typicalEmbeddingReplyBytes(inputCount, requirement.dimensions, encoding, model.model_name);
  const tooLarge = checkEmbeddingReplySize(typical, inputCount, maxReplyBytes, encoding)!;
  throw new LlmProviderError("payload_too_large", tooLarge.message, tooLarge);
}

/** Why `target` cannot embed this request: no client, a client without embeddings, another vector space. */
function embeddingSkipOf(
  deps: GenerateEmbeddingDeps,
  target: PlannedTarget,
  requirement: EmbeddingRequirement,
): TargetSkip | undefined {
  const noClient = clientSkipOf(deps, target);
  if (noClient) return noClient;
  if (!deps.clients.get(target.provider.id)!.generateEmbeddings) {
    return { reason: "missing_capability", detail: `provider '${target.provider.id}' cannot embed` };
  }
  const mismatch = embeddingMismatchOf(target.model, requirement);
  return mismatch === undefined ? undefined : { reason: "missing_capability", detail: mismatch };
}
