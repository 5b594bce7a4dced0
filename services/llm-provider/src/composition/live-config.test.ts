import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../config/load-config.js";
import type { LiveConfigStore, StoredConfig } from "../infra/kv/kv-live-config.js";
import { followLiveConfig, initialSnapshot } from "./live-config.js";
import type { ConfigSnapshot } from "./live-config.js";

const base = parseConfig(
  {
    environment: "development",
    policy_gateway: { bypass: true },
    live_config: { enabled: true, poll_interval_ms: 50 },
    providers: [{ id: "a", name: "A", provider_type: "openai", endpoint: "http://127.0.0.1:1/v1" }],
    models: [{ model_name: "m1", provider_id: "a", context_window: 8_192, max_tokens: 1_024 }],
  },
  "test",
);
const logger = pino({ level: "silent" });
const storeOf = (read: () => Promise<StoredConfig | undefined>): LiveConfigStore => ({
  read,
  write: () => Promise.reject(new Error("not written here")),
});
const withModel = (name: string, maxTokens = 1_024) => ({
  providers: base.providers,
  models: [{ ...base.models[0]!, model_name: name, max_tokens: maxTokens }],
  fallback_chains: [],
});

describe("initialSnapshot", () => {
  it("serves the file when KV does not answer at start", async () => {
    const snapshot = await initialSnapshot(
      storeOf(() => new Promise(() => undefined)),
      base,
      logger,
    );
    expect(snapshot).toEqual({ config: base, revision: undefined });
  });

  it("puts the stored sections over the file", async () => {
    const snapshot = await initialSnapshot(
      storeOf(() => Promise.resolve({ revision: 4, sections: withModel("m2") })),
      base,
      logger,
    );
    expect(snapshot.revision).toBe(4);
    expect(snapshot.config.models.map((model) => model.model_name)).toEqual(["m2"]);
    expect(snapshot.config.live_config).toEqual(base.live_config);
  });
});

describe("followLiveConfig", () => {
  it("swaps to each valid new revision and skips one that does not validate", async () => {
    const stored: StoredConfig[] = [
      { revision: 2, sections: withModel("m2") },
      { revision: 3, sections: withModel("broken", 0) }, // POL-LLM-002
      { revision: 4, sections: withModel("m4") },
    ];
    let current: number | undefined;
    let reads = 0;
    const swaps: ConfigSnapshot[] = [];
    const follower = followLiveConfig({
      store: storeOf(() => Promise.resolve(stored[Math.min(reads++ >> 1, 2)])),
      base,
      current: () => current,
      swap: (snapshot) => {
        swaps.push(snapshot);
        current = snapshot.revision;
      },
      logger,
    });
    try {
      await expect.poll(() => current, { timeout: 5_000 }).toBe(4);
    } finally {
      follower.stop();
    }
    expect(swaps.map((swap) => [swap.revision, swap.config.models[0]!.model_name])).toEqual([
      [2, "m2"],
      [4, "m4"],
    ]);
  });
});
