import { describe, expect, it } from "vitest";
import { ProviderConfigSchema } from "../config/schema.js";
import { buildCatalog, DEFAULT_MODEL_FEATURES, planTargets } from "./catalog.js";
import type { CatalogInput, ModelEntry, ProviderSpec } from "./catalog.js";

const provider = (id: string, is_active = true): ProviderSpec => ({
  id,
  name: id,
  provider_type: "openai",
  endpoint: "http://127.0.0.1:1/v1",
  is_active,
  headers: {},
  config: ProviderConfigSchema.parse({}),
});

const model = (model_name: string, provider_id: string, extra: Partial<ModelEntry> = {}): ModelEntry => ({
  model_name,
  provider_id,
  context_window: 8_000,
  max_tokens: 1_000,
  cost: { input_per_million: 0, output_per_million: 0 },
  features: { ...DEFAULT_MODEL_FEATURES },
  ...extra,
});

const input: CatalogInput = {
  environment: "development",
  policy_gateway: { bypass: true },
  providers: [provider("a"), provider("b"), provider("c", false), provider("d")],
  models: [
    model("m", "a", { balancing: "least_busy" }),
    model("m", "b", { weight: 3 }),
    model("m", "c"),
    model("fallback", "d"),
    model("single", "d"),
  ],
  fallback_chains: [
    { id: "ch", models: ["m", "fallback"], triggers: { error: true, rate_limit: true, timeout: true } },
  ],
  load_balancing: { strategy: "weighted" },
};

describe("a model with several deployments", () => {
  const catalog = buildCatalog(input, 0);

  it("is one model to callers (its first entry) with every entry as a deployment", () => {
    expect(catalog.models.get("m")?.provider_id).toBe("a");
    expect(catalog.deployments.get("m")?.map((d) => d.provider_id)).toEqual(["a", "b", "c"]);
    expect(catalog.balancing.get("m")).toBe("least_busy");
    expect(catalog.balancing.has("single")).toBe(false); // one deployment: nothing to balance
  });

  it("plans its deployments in the balancer's order, an inactive one skipped, then the chain's models", () => {
    const reversed = (_: string, deployments: readonly ModelEntry[]) => [...deployments].reverse();
    const { targets } = planTargets(catalog, "m", reversed);
    expect(
      targets.map((t) => `${t.provider.id}/${t.model.model_name}:${t.skip?.reason ?? "callable"}`),
    ).toEqual(["c/m:provider_inactive", "b/m:callable", "a/m:callable", "d/fallback:callable"]);
  });

  it("asks the balancer only for models with more than one deployment", () => {
    const asked: string[] = [];
    planTargets(catalog, "single", (name, deployments) => {
      asked.push(name);
      return deployments;
    });
    planTargets(catalog, "m", (name, deployments) => {
      asked.push(name);
      return deployments;
    });
    expect(asked).toEqual(["m"]);
  });
});
