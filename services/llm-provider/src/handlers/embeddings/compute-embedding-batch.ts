import type { Context } from "@opentelemetry/api";
import { LlmProviderError } from "@llm-provider/contracts";
import type { Attempt, GenerateEmbedding } from "@llm-provider/contracts";
import { upstreamModelName } from "../../domain/catalog.js";
import type { FallbackChain, Target } from "../../domain/catalog.js";
import { computeCost } from "../../domain/cost.js";
import { estimateEmbeddingTokens } from "../../domain/embedding-batch.js";
import { findDimensionMismatch, upstreamDimensions } from "../../domain/embedding-requirements.js";
import type { EmbeddingRequirement } from "../../domain/embedding-requirements.js";
import type { EmbeddingOutcome, ProviderClient } from "../../ports/provider-client.js";
import { executeWithFallback } from "../../routing/execute-with-fallback.js";
import { withFallbackWarning } from "../../routing/fallback-warning.js";
import type { ExecutionResult } from "../../routing/execute-with-fallback.js";
import type { HealthRecorder } from "../../ports/health-recorder.js";
import type { ComputeBatch } from "./resolve-embeddings.js";

export interface EmbeddingBatchComputerOptions {
  clients: ReadonlyMap<string, ProviderClient>;
  /** Targets whose client embeds and whose model serves the requirement, in fallback order. */
  targets: readonly Target[];
  chain: FallbackChain | undefined;
  requirement: EmbeddingRequirement;
  request: GenerateEmbedding;
  deadline: number;
  /** The request's trace context (`RequestContext.trace`). */
  trace: Context;
  health: HealthRecorder;
}

/**
 * One slice of texts through routing — retries and fallback along the targets within the
 * deadline — then the dimension check: a vector of the wrong length fails the request before
 * anything is cached. Priced with the answering model's input price. Every attempt goes to the
 * health record, whether the slice is answered or not.
 */
export function createEmbeddingBatchComputer(options: EmbeddingBatchComputerOptions): ComputeBatch {
  const { clients, targets, chain, requirement, request, deadline, trace, health } = options;
  return async function computeBatch(texts, signal) {
    let execution: ExecutionResult<EmbeddingOutcome>;
    try {
      execution = await executeWithFallback({ targets, chain, deadline, signal }, (target, attemptSignal) =>
        clients.get(target.provider.id)!.generateEmbeddings!({
          upstreamModel: upstreamModelName(target.model),
          inputs: texts,
          dimensions: upstreamDimensions(target.model, requirement),
          user: request.user,
          signal: attemptSignal,
          trace,
        }),
      );
    } catch (error) {
      if (error instanceof LlmProviderError) {
        health.recordAttempts((error.details?.attempts as Attempt[] | undefined) ?? []);
      }
      throw error;
    }
    const { value: outcome, target, attempts } = execution;
    // Before the dimension check: the provider answered, whatever the request makes of it.
    health.recordAttempts(attempts);
    const mismatch = findDimensionMismatch(outcome.vectors, requirement.dimensions);
    if (mismatch) {
      throw new LlmProviderError(
        "dimension_mismatch",
        `model '${target.model.model_name}' on provider '${target.provider.id}' returned a vector of ` +
          `${mismatch.length} dimensions; ${requirement.dimensions} expected. Nothing was cached`,
        {
          details: {
            model: target.model.model_name,
            provider_id: target.provider.id,
            expected_dimensions: requirement.dimensions,
            received_dimensions: mismatch.length,
            attempts,
          },
        },
      );
    }
    const promptTokens = outcome.usage?.promptTokens ?? 0;
    return {
      vectors: outcome.vectors,
      model: target.model.model_name,
      providerId: target.provider.id,
      promptTokens,
      countedTokens: outcome.usage?.promptTokens ?? estimateEmbeddingTokens(texts),
      cost: computeCost(promptTokens, 0, target.model.cost),
      attempts,
      warnings: withFallbackWarning(outcome.warnings, request.model, target, attempts),
    };
  };
}
