import { describe, expect, it } from "vitest";
import { ProviderConfigSchema } from "../config/schema.js";
import { buildCatalog, DEFAULT_MODEL_FEATURES, planTargets } from "../domain/catalog.js";
import type { ModelEntry, ProviderSpec } from "../domain/catalog.js";
import type { HealthSnapshot, LastKnownHealth } from "../domain/provider-health.js";
import { DEFAULT_HEALTH_THRESHOLDS, mergeHealthSnapshots } from "../domain/provider-health.js";
import { createDeploymentBalancer } from "./deployment-balancer.js";

const provider = (id: string): ProviderSpec => ({
  id,
  name: id,
  provider_type: "openai",
  endpoint: "http://127.0.0.1:1/v1",
  is_active: true,
  headers: {},
  config: ProviderConfigSchema.parse({}),
});

const model = (provider_id: string): ModelEntry => ({
  model_name: "m",
  provider_id,
  balancing: "least_busy",
  context_window: 8_000,
  max_tokens: 1_000,
  cost: { input_per_million: 0, output_per_million: 0 },
  features: { ...DEFAULT_MODEL_FEATURES },
});

const catalog = buildCatalog(
  {
    environment: "development",
    policy_gateway: { bypass: true },
    providers: [provider("a"), provider("b")],
    models: [model("a"), model("b")],
    fallback_chains: [],
  },
  0,
);

/** No calls in the window: what merging no snapshot gives. */
const idle: HealthSnapshot = mergeHealthSnapshots([]);

describe("the deployment balancer", () => {
  it("counts the other workers' calls in flight, and reads a stale view again in the background", async () => {
    const clock = { now: 10_000 };
    const known = new Map<string, LastKnownHealth>([
      ["a", { snapshot: { ...idle, inFlight: 6 }, readAt: 9_000 }], // another worker's calls to a
      ["b", { snapshot: { ...idle, inFlight: 1 }, readAt: null }],
    ]);
    const reads: string[] = [];
    let answerRead!: () => void;
    const balancer = createDeploymentBalancer({
      isModelAvailable: () => true,
      health: {
        lastKnown: (id) => known.get(id)!,
        read: (id) => {
          reads.push(id);
          return new Promise((resolve) => (answerRead = () => resolve(idle)));
        },
      },
      thresholds: DEFAULT_HEALTH_THRESHOLDS,
      latencyTolerance: 0.2,
      affinityPrefixChars: 4_096,
      refreshMs: 2_000,
      now: () => clock.now,
      random: () => 0.5,
    });
    const order = () =>
      planTargets(catalog, "m", balancer.orderFor(catalog)).targets.map((t) => t.provider.id);
    expect(order()).toEqual(["b", "a"]);
    // b was never read: one read, and no second one while it is pending; a was read 1 s ago.
    expect(order()).toEqual(["b", "a"]);
    expect(reads).toEqual(["b"]);
    answerRead();
    await Promise.resolve();
    clock.now += 1_500; // a's view is now 2.5 s old
    known.set("b", { snapshot: { ...idle, inFlight: 9 }, readAt: clock.now });
    expect(order()).toEqual(["a", "b"]);
    expect(reads).toEqual(["b", "a"]);
  });

  it("orders a deployment that cannot be called now last", () => {
    const balancer = createDeploymentBalancer({
      isModelAvailable: (m) => m.provider_id !== "b",
      health: { lastKnown: () => ({ snapshot: idle, readAt: 0 }), read: () => Promise.resolve(idle) },
      thresholds: DEFAULT_HEALTH_THRESHOLDS,
      latencyTolerance: 0.2,
      affinityPrefixChars: 4_096,
      refreshMs: Number.POSITIVE_INFINITY,
      random: () => 0.99,
    });
    for (let run = 0; run < 10; run++) {
      const targets = planTargets(catalog, "m", balancer.orderFor(catalog)).targets;
      expect(targets.map((t) => t.provider.id)).toEqual(["a", "b"]);
    }
  });
});
