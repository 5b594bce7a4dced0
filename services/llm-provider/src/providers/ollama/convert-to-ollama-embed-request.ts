import type { EmbeddingCall } from "../../ports/provider-client.js";

/** The `/api/embed` request body, as far as we send it. */
export interface OllamaEmbedRequest {
  model: string;
  input: string[];
  /** False: an input longer than the context is an error, not silently cut (Ollama's default). */
  truncate: false;
  dimensions?: number;
}

/** Neutral embedding call → Ollama `/api/embed` body (the whole batch in one request). */
export function convertToOllamaEmbedRequest(call: EmbeddingCall): {
  body: OllamaEmbedRequest;
  warnings: string[];
} {
  const body: OllamaEmbedRequest = { model: call.upstreamModel, input: [...call.inputs], truncate: false };
  if (call.dimensions !== undefined) body.dimensions = call.dimensions;
  const warnings = call.user !== undefined ? ["user is not supported by Ollama and was not sent"] : [];
  return { body, warnings };
}
