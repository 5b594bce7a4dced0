import { describe, expect, it } from "vitest";
import { orderDeployments, promptAffinityKey } from "./load-balancing.js";
import type { BalancingSettings, BalancingStrategy, DeploymentState } from "./load-balancing.js";

/** A seeded generator (mulberry32): the same draws on every run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Deployment {
  id: string;
  state: Partial<DeploymentState>;
}

const healthy: DeploymentState = {
  weight: 1,
  breakerOpen: false,
  healthScore: 1,
  inFlight: 0,
  averageLatencyMs: undefined,
};

function order(
  deployments: Deployment[],
  strategy: BalancingStrategy,
  random: () => number,
  affinityKey?: string,
): string[] {
  const settings: BalancingSettings = { strategy, latencyTolerance: 0.2 };
  return orderDeployments(
    deployments,
    (d) => ({ ...healthy, ...d.state }),
    (d) => d.id,
    settings,
    { random, affinityKey },
  ).map((d) => d.id);
}

/** How often each deployment comes first over `runs` orders. */
function firstShares(runs: number, pick: () => string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (let run = 0; run < runs; run++) {
    const first = pick()[0]!;
    counts.set(first, (counts.get(first) ?? 0) + 1);
  }
  return new Map([...counts].map(([id, count]) => [id, count / runs]));
}

describe("orderDeployments", () => {
  it("weighted: each deployment leads in proportion to its weight, the others follow as siblings", () => {
    const random = seeded(1);
    const deployments = [
      { id: "a", state: { weight: 3 } },
      { id: "b", state: { weight: 1 } },
    ];
    const shares = firstShares(20_000, () => order(deployments, "weighted", random));
    expect(shares.get("a")).toBeCloseTo(0.75, 1);
    expect(Math.abs(shares.get("a")! - 0.75)).toBeLessThan(0.02);
    expect(order(deployments, "weighted", random).sort()).toEqual(["a", "b"]);
  });

  it("scales weights by the health score: traffic leaves a failing deployment before its breaker opens", () => {
    const random = seeded(2);
    const shares = firstShares(20_000, () =>
      order(
        [
          { id: "a", state: { healthScore: 1 } },
          { id: "b", state: { healthScore: 0.25 } },
        ],
        "weighted",
        random,
      ),
    );
    expect(Math.abs(shares.get("a")! - 0.8)).toBeLessThan(0.02);
  });

  it("puts a deployment whose breaker is open, or whose score is 0, last in every strategy", () => {
    const random = seeded(3);
    for (const strategy of ["weighted", "least_busy", "lowest_latency", "prompt_cache_affinity"] as const) {
      for (let run = 0; run < 50; run++) {
        const ordered = order(
          [
            { id: "open", state: { breakerOpen: true, weight: 100 } },
            { id: "zero", state: { healthScore: 0, weight: 100 } },
            { id: "ok", state: {} },
          ],
          strategy,
          random,
          "some-key",
        );
        expect(ordered).toEqual(["ok", "open", "zero"]);
      }
    }
  });

  it("least_busy: the fewest calls in flight per unit of weight first", () => {
    const random = seeded(4);
    expect(
      order(
        [
          { id: "busy", state: { inFlight: 9 } },
          { id: "idle", state: { inFlight: 0 } },
          { id: "half", state: { inFlight: 4 } },
        ],
        "least_busy",
        random,
      ),
    ).toEqual(["idle", "half", "busy"]);
    // 4 in flight on weight 4 is less busy than 2 on weight 1.
    expect(
      order(
        [
          { id: "small", state: { inFlight: 2, weight: 1 } },
          { id: "large", state: { inFlight: 4, weight: 4 } },
        ],
        "least_busy",
        random,
      ),
    ).toEqual(["large", "small"]);
  });

  it("lowest_latency: the fastest first; those within the tolerance share the lead; an unmeasured one is tried", () => {
    const random = seeded(5);
    expect(
      order(
        [
          { id: "slow", state: { averageLatencyMs: 900 } },
          { id: "fast", state: { averageLatencyMs: 100 } },
          { id: "mid", state: { averageLatencyMs: 400 } },
        ],
        "lowest_latency",
        random,
      ),
    ).toEqual(["fast", "mid", "slow"]);
    const close = [
      { id: "a", state: { averageLatencyMs: 100 } },
      { id: "b", state: { averageLatencyMs: 110 } },
      { id: "c", state: { averageLatencyMs: 500 } },
    ];
    const shares = firstShares(10_000, () => order(close, "lowest_latency", random));
    expect(Math.abs(shares.get("a")! - 0.5)).toBeLessThan(0.03);
    expect(shares.get("c")).toBeUndefined();
    expect(
      order(
        [
          { id: "known", state: { averageLatencyMs: 50 } },
          { id: "new", state: {} },
        ],
        "lowest_latency",
        random,
      )[0],
    ).toBe("new");
  });

  it("prompt_cache_affinity: one key always lands on the same deployment; keys spread by weight", () => {
    const random = seeded(6);
    const deployments = [
      { id: "a", state: { weight: 1 } },
      { id: "b", state: { weight: 1 } },
      { id: "c", state: { weight: 2 } },
    ];
    const firstOf = (key: string) => order(deployments, "prompt_cache_affinity", random, key)[0]!;
    for (let key = 0; key < 20; key++) {
      const first = firstOf(`key-${key}`);
      for (let again = 0; again < 5; again++) expect(firstOf(`key-${key}`)).toBe(first);
    }
    const counts = new Map<string, number>();
    for (let key = 0; key < 8_000; key++) {
      const first = firstOf(`k${key}`);
      counts.set(first, (counts.get(first) ?? 0) + 1);
    }
    expect(Math.abs(counts.get("c")! / 8_000 - 0.5)).toBeLessThan(0.03);
    expect(Math.abs(counts.get("a")! / 8_000 - 0.25)).toBeLessThan(0.03);
  });

  it("prompt_cache_affinity: draining a deployment moves only the keys it had", () => {
    const random = seeded(7);
    const all = ["a", "b", "c"].map((id) => ({ id, state: {} }));
    const withoutB = all.map((d) => (d.id === "b" ? { ...d, state: { breakerOpen: true } } : d));
    for (let key = 0; key < 2_000; key++) {
      const before = order(all, "prompt_cache_affinity", random, `k${key}`)[0];
      const after = order(withoutB, "prompt_cache_affinity", random, `k${key}`)[0];
      if (before !== "b") expect(after).toBe(before);
      else expect(after).not.toBe("b");
    }
  });

  it("prompt_cache_affinity without a key (short prompt) is weighted", () => {
    const random = seeded(8);
    const shares = firstShares(10_000, () =>
      order(
        [
          { id: "a", state: { weight: 1 } },
          { id: "b", state: { weight: 1 } },
        ],
        "prompt_cache_affinity",
        random,
      ),
    );
    expect(Math.abs(shares.get("a")! - 0.5)).toBeLessThan(0.03);
  });
});

describe("promptAffinityKey", () => {
  const system = { role: "system", content: "You are helpful. ".repeat(300) };
  it("is the same for prompts that share the prefix, whatever follows", () => {
    const one = promptAffinityKey([system, { role: "user", content: "first question" }], 4_096);
    const two = promptAffinityKey([system, { role: "user", content: "another one" }], 4_096);
    expect(one).toMatch(/^[0-9a-f]{64}$/);
    expect(two).toBe(one);
  });

  it("differs for another prefix, and is undefined for a prompt shorter than the prefix", () => {
    const other = { role: "system", content: "You are terse. ".repeat(300) };
    expect(promptAffinityKey([other], 4_096)).not.toBe(promptAffinityKey([system], 4_096));
    expect(promptAffinityKey([{ role: "user", content: "hi" }], 4_096)).toBeUndefined();
  });
});
