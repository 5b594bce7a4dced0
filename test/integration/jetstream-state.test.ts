import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify as toYaml } from "yaml";
import { Writable } from "node:stream";
import { startApp } from "../../services/llm-provider/src/app.js";
import { ConfigError, parseConfig } from "../../services/llm-provider/src/config/load-config.js";
import { createLogger } from "../../services/llm-provider/src/infra/logging/logger.js";
import { ensureJetStreamState } from "../../services/llm-provider/src/infra/jetstream/jetstream-state.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { builtServiceArgs } from "../support/built-service.js";
import { testConfig } from "../support/service.js";

const root = resolve(import.meta.dirname, "../..");
let nats: NatsServerHandle;
let nc: NatsConnection;
let workDir: string;

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  workDir = await mkdtemp(join(tmpdir(), "llm-provider-state-"));
});

afterAll(async () => {
  await nc?.drain();
  await nats?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

const SECOND = 1_000_000_000;

describe("JetStream state (event stream and KV buckets)", () => {
  it("is created with the configured shape, left alone when it matches, and reshaped when the config changes", async () => {
    const config = parseConfig(
      testConfig(nats.url, ["http://127.0.0.1:9"], {
        events: { stream: "STATE_EVENTS", max_age_ms: 3_600_000, duplicate_window_ms: 60_000 },
        embedding_cache: { bucket: "state_embeddings", ttl_ms: 86_400_000, max_bytes: 8_388_608 },
        health: { bucket: "state_health", ttl_ms: 60_000, flush_interval_ms: 1_000 },
        circuit_breaker: { bucket: "state_breakers", failure_threshold: 1_000 },
        rate_limits: { bucket: "state_rates" },
        spend: { bucket: "state_spend" },
        idempotency: {
          bucket: "state_requests",
          window_ms: 3_600_000,
          replies_bucket: "state_replies",
          replies_max_bytes: 16_777_216,
        },
        // Job and resumable streams own fixed subjects; their own tests cover them.
        jobs: { enabled: false },
        resumable_streams: { enabled: false },
      }),
      "test",
    );
    const first = await ensureJetStreamState(nc, config);
    expect(first.map(({ kind, name, outcome }) => `${kind}:${name}:${outcome}`)).toEqual([
      "stream:STATE_EVENTS:created",
      "kv:state_breakers:created",
      "kv:state_rates:created",
      "kv:state_health:created",
      "kv:state_spend:created",
      "kv:state_embeddings:created",
      "kv:state_requests:created",
      "object_store:state_replies:created",
    ]);
    const jsm = await jetstreamManager(nc);
    const embeddings = (await jsm.streams.info("KV_state_embeddings")).config;
    expect(embeddings).toMatchObject({
      max_age: 86_400 * SECOND,
      max_bytes: 8_388_608,
      max_msgs_per_subject: 1,
      allow_direct: true,
      discard: "old",
      num_replicas: 1,
    });
    expect((await jsm.streams.info("KV_state_health")).config.max_age).toBe(60 * SECOND);
    expect((await jsm.streams.info("KV_state_breakers")).config.max_age).toBe(0);
    // A month's spend outlives the month.
    expect((await jsm.streams.info("KV_state_spend")).config.max_age).toBe(62 * 86_400 * SECOND);
    expect((await jsm.streams.info("KV_state_requests")).config.max_age).toBe(3_600 * SECOND);
    // Large stored replies expire with the records that name them.
    expect((await jsm.streams.info("OBJ_state_replies")).config).toMatchObject({
      max_age: 3_600 * SECOND,
      max_bytes: 16_777_216,
      num_replicas: 1,
    });
    const events = (await jsm.streams.info("STATE_EVENTS")).config;
    expect(events).toMatchObject({ max_age: 3_600 * SECOND, duplicate_window: 60 * SECOND });

    const again = await ensureJetStreamState(nc, config);
    expect(again.every((resource) => resource.outcome === "unchanged")).toBe(true);

    const changed = parseConfig(
      testConfig(nats.url, ["http://127.0.0.1:9"], {
        events: { stream: "STATE_EVENTS", max_age_ms: 7_200_000, duplicate_window_ms: 60_000 },
        embedding_cache: { bucket: "state_embeddings", ttl_ms: 3_600_000 },
        health: { bucket: "state_health", ttl_ms: 60_000, flush_interval_ms: 1_000 },
        circuit_breaker: { bucket: "state_breakers", failure_threshold: 1_000 },
        rate_limits: { bucket: "state_rates" },
        spend: { bucket: "state_spend" },
        idempotency: { bucket: "state_requests", window_ms: 7_200_000, replies_bucket: "state_replies" },
        // Job and resumable streams own fixed subjects; their own tests cover them.
        jobs: { enabled: false },
        resumable_streams: { enabled: false },
      }),
      "test",
    );
    const reshaped = await ensureJetStreamState(nc, changed);
    expect(reshaped.map(({ name, outcome }) => `${name}:${outcome}`)).toEqual([
      "STATE_EVENTS:updated",
      "state_breakers:unchanged",
      "state_rates:unchanged",
      "state_health:unchanged",
      "state_spend:unchanged",
      "state_embeddings:updated",
      "state_requests:updated",
      "state_replies:updated",
    ]);
    expect((await jsm.streams.info("OBJ_state_replies")).config).toMatchObject({
      max_age: 7_200 * SECOND,
      max_bytes: -1,
    });
    expect((await jsm.streams.info("KV_state_embeddings")).config).toMatchObject({
      max_age: 3_600 * SECOND,
      max_bytes: -1,
    });
    expect((await jsm.streams.info("STATE_EVENTS")).config.max_age).toBe(7_200 * SECOND);
    // Two streams cannot own the same event subjects: make room for the next test's.
    await jsm.streams.delete("STATE_EVENTS");
  });

  it("a worker without `service.create_state` only checks it: missing refuses the start, different is logged", async () => {
    const input = testConfig(nats.url, ["http://127.0.0.1:9"], {
      service: { create_state: false },
      events: { stream: "WORKER_EVENTS", max_age_ms: 3_600_000 },
      embedding_cache: { bucket: "worker_embeddings" },
      health: { bucket: "worker_health" },
      circuit_breaker: { bucket: "worker_breakers" },
      rate_limits: { bucket: "worker_rates" },
      spend: { bucket: "worker_spend" },
      idempotency: { bucket: "worker_requests", replies_bucket: "worker_replies" },
      // Job and resumable streams own fixed subjects; their own tests cover them.
      jobs: { enabled: false },
      resumable_streams: { enabled: false },
    });
    const config = parseConfig(input, "test");
    const logs: string[] = [];
    const logger = createLogger(
      "info",
      new Writable({ write: (chunk, _e, done) => (logs.push(String(chunk)), done()) }),
    );
    const refused = await startApp({ config, nc, logger }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as ConfigError).message).toContain(
      "stream WORKER_EVENTS does not exist: run llm-provider-bootstrap",
    );
    expect((refused as ConfigError).problems).toHaveLength(8);
    const jsm = await jetstreamManager(nc);
    const names: string[] = [];
    for await (const name of jsm.streams.names()) names.push(name);
    expect(names.filter((name) => /worker/i.test(name))).toEqual([]); // nothing was created

    await ensureJetStreamState(nc, parseConfig({ ...input, events: { stream: "WORKER_EVENTS" } }, "test"));
    const app = await startApp({ config, nc, logger });
    await app.stop(100);
    expect(logs.join("")).toContain(
      "JetStream state differs from the configuration: run llm-provider-bootstrap",
    );
    expect((await jsm.streams.info("WORKER_EVENTS")).config.max_age).toBe(7 * 24 * 3_600 * SECOND); // left alone
    await jsm.streams.delete("WORKER_EVENTS");
  });

  it("`llm-provider-bootstrap` creates it and exits 0; run again, it changes nothing", async () => {
    const configPath = join(workDir, "bootstrap.yaml");
    await writeFile(
      configPath,
      toYaml(
        testConfig(nats.url, ["http://127.0.0.1:9"], {
          events: { stream: "BOOT_EVENTS", consumers: [{ name: "analytics" }] },
          embedding_cache: { bucket: "boot_embeddings" },
          health: { bucket: "boot_health" },
          circuit_breaker: { bucket: "boot_breakers" },
          rate_limits: { bucket: "boot_rates" },
          spend: { bucket: "boot_spend" },
          idempotency: { bucket: "boot_requests", replies_bucket: "boot_replies" },
          // Job and resumable streams own fixed subjects; their own tests cover them.
          jobs: { enabled: false },
          resumable_streams: { enabled: false },
        }),
      ),
    );
    const first = await runBootstrap(configPath);
    expect(first.code).toBe(0);
    for (const name of [
      "BOOT_EVENTS",
      "analytics",
      "boot_embeddings",
      "boot_health",
      "boot_breakers",
      "boot_rates",
      "boot_spend",
      "boot_requests",
      "boot_replies",
    ])
      expect(first.stdout).toContain(`${name}: created`);
    const jsm = await jetstreamManager(nc);
    const names: string[] = [];
    for await (const info of jsm.streams.list()) names.push(info.config.name);
    expect(names).toEqual(
      expect.arrayContaining([
        "BOOT_EVENTS",
        "KV_boot_embeddings",
        "KV_boot_health",
        "KV_boot_breakers",
        "KV_boot_rates",
        "KV_boot_spend",
        "KV_boot_requests",
        "OBJ_boot_replies",
      ]),
    );
    const second = await runBootstrap(configPath);
    expect(second.code).toBe(0);
    expect(second.stdout).not.toMatch(/: (created|updated)/);
    expect(second.stdout.match(/: unchanged/g)).toHaveLength(9);
    const consumer = await jsm.consumers.info("BOOT_EVENTS", "analytics");
    expect(consumer.config).toMatchObject({ durable_name: "analytics", ack_policy: "explicit" });
  });

  it("`llm-provider-bootstrap` without NATS fails with exit 1 and says why", async () => {
    const configPath = join(workDir, "no-nats.yaml");
    await writeFile(configPath, toYaml(testConfig("nats://127.0.0.1:1", ["http://127.0.0.1:9"])));
    const result = await runBootstrap(configPath);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("bootstrap failed");
  });
});

function runBootstrap(configPath: string): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, builtServiceArgs("bootstrap", ["--config", configPath]), {
    cwd: root,
    env: { ...process.env, TEST_OPENAI_KEY: "unused" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  const kill = setTimeout(() => child.kill("SIGKILL"), 20_000);
  return new Promise((done) =>
    child.once("exit", (code) => {
      clearTimeout(kill);
      done({ code, stdout });
    }),
  );
}
