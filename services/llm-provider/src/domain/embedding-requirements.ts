import type { ModelEntry } from "./catalog.js";
import type { Mismatch } from "./chat-requirements.js";

/**
 * What every target of one embedding request must produce: vectors of `dimensions` values, in the
 * vector space of the requested model, whose native length is `nativeDimensions`.
 */
export interface EmbeddingRequirement {
  dimensions: number;
  nativeDimensions: number;
}

/**
 * Whether the requested model can take an embedding request, and with which vector length.
 * A model declares it honours a `dimensions` request field with `configurable_dimensions`
 * (OpenAI's text-embedding-3 family shortens vectors on request); others accept only their native
 * length, which a request may still name explicitly.
 */
export function resolveEmbeddingRequirement(
  model: ModelEntry,
  requestedDimensions: number | undefined,
): { requirement: EmbeddingRequirement } | { mismatch: Mismatch } {
  if (!model.features.embedding || model.dimensions === undefined) {
    const chatOnly = model.features.chat ? " (it is a chat model)" : "";
    return {
      mismatch: {
        kind: "unsupported",
        field: "model",
        message: `model '${model.model_name}' does not support embeddings${chatOnly}`,
      },
    };
  }
  const native = model.dimensions;
  const dimensions = requestedDimensions ?? native;
  if (dimensions !== native && !model.configurable_dimensions) {
    return {
      mismatch: {
        kind: "unsupported",
        field: "dimensions",
        message: `model '${model.model_name}' always returns ${native} dimensions; omit dimensions or ask for ${native}`,
      },
    };
  }
  if (dimensions > native) {
    return {
      mismatch: {
        kind: "invalid_request",
        field: "dimensions",
        message: `dimensions ${dimensions} exceeds model '${model.model_name}' maximum of ${native}`,
      },
    };
  }
  return { requirement: { dimensions, nativeDimensions: native } };
}

/**
 * Why a fallback target cannot serve the request, in words (a skipped target is listed with its
 * reason); undefined when it can: an embedding model of the same native length (the cache keys
 * vectors by the requested model, so a chain of embedding models must list one vector space — the
 * same model on several providers), able to shorten when a length was asked.
 */
export function embeddingMismatchOf(
  model: ModelEntry,
  requirement: EmbeddingRequirement,
): string | undefined {
  const name = `model '${model.model_name}'`;
  if (!model.features.embedding) return `${name} does not embed`;
  if (model.dimensions !== requirement.nativeDimensions)
    return `${name} has ${model.dimensions} dimensions, another vector space than ${requirement.nativeDimensions}`;
  if (requirement.dimensions !== model.dimensions && model.configurable_dimensions !== true)
    return `${name} cannot shorten its vectors to ${requirement.dimensions} dimensions`;
  return undefined;
}

/** The `dimensions` to send a target: only a length other than its native one. */
export function upstreamDimensions(model: ModelEntry, requirement: EmbeddingRequirement): number | undefined {
  return requirement.dimensions === model.dimensions ? undefined : requirement.dimensions;
}

/** The first vector whose length is not `expected`, if any. */
export function findDimensionMismatch(
  vectors: readonly Float32Array[],
  expected: number,
): { index: number; length: number } | undefined {
  const index = vectors.findIndex((vector) => vector.length !== expected);
  return index === -1 ? undefined : { index, length: vectors[index]!.length };
}
