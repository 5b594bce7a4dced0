import {
  ListAvailableModelsSchema,
  LlmProviderError,
  parseRequest,
  quoteValue,
} from "@llm-provider/contracts";
import type { FeatureFlags, ModelCapabilities, ModelList, ModelSpec } from "@llm-provider/contracts";
import type { Catalog, ModelEntry, ModelFeatures } from "../../domain/catalog.js";
import type { Handler } from "../../ports/request-handler.js";

export interface ListModelsDeps {
  catalog: () => Catalog;
  /** The live configuration's KV revision in force; undefined while it is the file's alone. */
  configRevision: () => number | undefined;
  /** Whether a model can take requests right now (provider active, wire built, key present, breaker not open). */
  isModelAvailable: (model: ModelEntry) => boolean;
}

/** QRY-001: the configured models in OpenAI's list format, optionally for one provider. */
export function createListModelsHandler(deps: ListModelsDeps): Handler {
  return function listModels(body) {
    const request = parseRequest(ListAvailableModelsSchema, body);
    const catalog = deps.catalog();
    const revision = deps.configRevision();
    if (request.provider_id !== undefined && !catalog.providers.has(request.provider_id)) {
      return Promise.reject(
        new LlmProviderError(
          "unknown_provider",
          `provider ${quoteValue(request.provider_id)} is not configured`,
          {
            field: "provider_id",
          },
        ),
      );
    }
    const data: ModelSpec[] = [];
    for (const [name, deployments] of catalog.deployments) {
      const onProvider =
        request.provider_id === undefined
          ? deployments
          : deployments.filter((d) => d.provider_id === request.provider_id);
      const model = onProvider[0];
      if (model === undefined) continue;
      const provider = catalog.providers.get(model.provider_id)!;
      const spec: ModelSpec = {
        id: model.model_name,
        object: "model",
        created: catalog.createdAt,
        owned_by: provider.id,
        model_name: model.model_name,
        provider_id: provider.id,
        provider_name: provider.name ?? provider.id,
        provider_type: provider.provider_type,
        context_window: model.context_window,
        max_tokens: model.max_tokens,
        cost_metrics: { currency: "USD", ...model.cost },
        feature_flags: featureFlagsOf(model.features),
        capabilities: capabilitiesOf(model.features),
        is_available: onProvider.some(deps.isModelAvailable),
      };
      if (model.dimensions !== undefined) spec.dimensions = model.dimensions;
      const balancing = catalog.balancing.get(name);
      if (balancing !== undefined) {
        spec.balancing = balancing;
        spec.deployments = deployments.map((deployment) => ({
          provider_id: deployment.provider_id,
          provider_type: catalog.providers.get(deployment.provider_id)!.provider_type,
          weight: deployment.weight ?? 1,
          is_available: deps.isModelAvailable(deployment),
        }));
      }
      data.push(spec);
    }
    const list: ModelList = { object: "list", data };
    if (revision !== undefined) list.config_revision = revision;
    return Promise.resolve(list);
  };
}

function featureFlagsOf(features: ModelFeatures): FeatureFlags {
  const { chat, embedding, function_calling, streaming, assistant_prefill } = features;
  return assistant_prefill === undefined
    ? { chat, embedding, function_calling, streaming }
    : { chat, embedding, function_calling, streaming, assistant_prefill };
}

function capabilitiesOf(features: ModelFeatures): ModelCapabilities {
  return {
    vision: features.vision,
    files: features.files,
    reasoning: features.reasoning,
    prompt_caching: features.prompt_caching,
    tools: features.function_calling,
    structured_output: features.chat && features.structured_output,
    streaming: features.streaming,
  };
}
