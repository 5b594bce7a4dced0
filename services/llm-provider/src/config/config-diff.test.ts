import { describe, expect, it } from "vitest";
import { diffLiveSections, formatConfigChanges } from "./config-diff.js";
import { liveSectionsOf } from "./live-sections.js";
import { parseConfig } from "./load-config.js";
import { catalogueSuppliedFields } from "./model-catalogue.js";

const raw = {
  environment: "development",
  policy_gateway: { bypass: true },
  providers: [
    { id: "a", name: "A", provider_type: "openai", endpoint: "http://127.0.0.1:1/v1" },
    { id: "b", name: "B", provider_type: "openai", endpoint: "http://127.0.0.1:2/v1" },
  ],
  models: [
    {
      model_name: "m1",
      provider_id: "a",
      context_window: 8_192,
      max_tokens: 1_024,
      cost: { input_per_million: 2, output_per_million: 10 },
    },
  ],
};

const sectionsOf = (config: unknown) => liveSectionsOf(parseConfig(config, "test"));

describe("diffLiveSections", () => {
  it("lists every entry as added when nothing is stored", () => {
    expect(formatConfigChanges(diffLiveSections(undefined, sectionsOf(raw)))).toBe(
      "+ providers a\n+ providers b\n+ models m1\n",
    );
  });

  it("names each changed field with its values, and added and removed entries", () => {
    const next = structuredClone(raw);
    next.providers = [{ ...next.providers[0]!, is_active: false } as (typeof raw.providers)[number]];
    next.models[0]!.cost.input_per_million = 2.5;
    next.models.push({ ...structuredClone(next.models[0]!), model_name: "m2" });
    const changes = diffLiveSections(sectionsOf(raw), sectionsOf(next));
    expect(changes).toEqual([
      {
        change: "changed",
        section: "providers",
        id: "a",
        fields: [{ path: "is_active", before: true, after: false }],
      },
      { change: "removed", section: "providers", id: "b" },
      {
        change: "changed",
        section: "models",
        id: "m1",
        fields: [{ path: "cost.input_per_million", before: 2, after: 2.5 }],
      },
      { change: "added", section: "models", id: "m2" },
    ]);
    expect(formatConfigChanges(changes)).toContain("~ models m1\n    cost.input_per_million: 2 → 2.5\n");
  });

  it("tells a model's deployments apart by provider: the first keeps the bare name", () => {
    const next = structuredClone(raw) as typeof raw & { models: Record<string, unknown>[] };
    next.models.push({ ...structuredClone(raw.models[0]!), provider_id: "b", weight: 3 });
    expect(formatConfigChanges(diffLiveSections(sectionsOf(raw), sectionsOf(next)))).toBe("+ models m1@b\n");
    const reweighted = structuredClone(next);
    reweighted.models[1]!["weight"] = 1;
    expect(formatConfigChanges(diffLiveSections(sectionsOf(next), sectionsOf(reweighted)))).toBe(
      "~ models m1@b\n    weight: 3 → 1\n",
    );
  });

  it("finds nothing between a configuration and itself", () => {
    expect(diffLiveSections(sectionsOf(raw), sectionsOf(raw))).toEqual([]);
    expect(formatConfigChanges([])).toBe("no changes\n");
  });

  it("marks the values the catalogue supplies, not those the entry sets", () => {
    // Priced by the catalogue but for the output price the entry sets.
    const catalogued = {
      ...raw,
      models: [
        {
          model_name: "m1",
          provider_id: "a",
          catalog: "openai/gpt-4o-mini",
          cost: { output_per_million: 10 },
        },
      ],
    };
    const supplied = catalogueSuppliedFields(catalogued);
    expect(supplied.get("m1")).toContain("cost.input_per_million");
    expect(supplied.get("m1")).not.toContain("cost.output_per_million");
    const now = sectionsOf(catalogued);
    const stored = structuredClone(now);
    stored.models[0]!.cost.input_per_million += 1;
    stored.models[0]!.cost.output_per_million = 12;
    const [change] = diffLiveSections(stored, now, supplied);
    const price = now.models[0]!.cost.input_per_million;
    expect(change?.fields).toEqual([
      { path: "cost.input_per_million", before: price + 1, after: price, source: "catalogue" },
      { path: "cost.output_per_million", before: 12, after: 10 },
    ]);
    expect(formatConfigChanges([change!])).toBe(
      `~ models m1\n    cost.input_per_million: ${price + 1} → ${price} (catalogue)\n    cost.output_per_million: 12 → 10\n`,
    );
  });
});
