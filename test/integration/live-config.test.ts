// Live configuration (#23 point 1): two worker processes from the build follow the configuration
// in KV; `llm-provider config …` (the built CLI, and its admin function in-process for timing)
// validates, diffs and writes it by compare-and-set.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { errors } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import { Svcm } from "@nats-io/services";
import { connect } from "@nats-io/transport-node";
import { createLlmProviderClient, SERVICE_NAME } from "@llm-provider/contracts";
import type { LlmProviderClient } from "@llm-provider/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify as toYaml } from "yaml";
import { applyConfigFile } from "../../services/llm-provider/src/config-admin.js";
import type { ConfigInput } from "../../services/llm-provider/src/config/schema.js";
import { runCli } from "../cli/run-cli.js";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { runMain } from "../support/main-process.js";
import { TEST_API_KEY, testConfig } from "../support/service.js";
import { eventually } from "../support/until.js";

let nats: NatsServerHandle;
let upstreams: FakeOpenAIServer[] = [];
let dir: string;
let nc: NatsConnection;
let client: LlmProviderClient;
let workers: ReturnType<typeof runMain>[] = [];
let base: ConfigInput;

const hello = (model: string) => ({ model, messages: [{ role: "user" as const, content: "Hello" }] });

/** Every worker's `config_revision` from `$SRV.INFO` metadata (one entry per worker that answered). */
async function revisions(): Promise<string[]> {
  const seen: string[] = [];
  try {
    const infos = await new Svcm(nc).client({ maxWait: 300, strategy: "timer" }).info(SERVICE_NAME);
    for await (const info of infos) seen.push(info.metadata?.["config_revision"] ?? "none");
  } catch (error) {
    // No worker subscribed yet (at start): none answered.
    if (!(error instanceof errors.NoRespondersError)) throw error;
  }
  return seen.sort();
}

async function writeConfig(name: string, config: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, toYaml(config));
  return path;
}

function cli(...args: string[]) {
  return runCli(["config", ...args, "--server", nats.url]);
}

/** Both workers on `revision`, read from INFO; fails naming what they reported otherwise. */
async function expectBothOn(revision: string, timeoutMs = 5_000): Promise<void> {
  const seen = await eventually(
    revisions,
    (now) => now.length === 2 && now.every((r) => r === revision),
    timeoutMs,
  );
  expect(seen).toEqual([revision, revision]);
}

beforeAll(async () => {
  nats = await startNatsServer();
  upstreams = [await startFakeOpenAIServer(), await startFakeOpenAIServer()];
  dir = await mkdtemp(join(tmpdir(), "live-config-"));
  base = testConfig(
    nats.url,
    upstreams.map((upstream) => upstream.baseUrl),
    { live_config: { enabled: true } },
  );
  const path = await writeConfig("worker.yaml", base);
  workers = [0, 1].map(() => runMain(path, { TEST_OPENAI_KEY: TEST_API_KEY }));
  nc = await connect({ servers: nats.url });
  client = createLlmProviderClient(nc, { timeouts: { chat: 10_000, query: 5_000 } });
  const both = await eventually(revisions, (now) => now.length === 2, 20_000);
  if (both.length !== 2)
    throw new Error(`workers did not start: ${workers.map((w) => w.output().stderr).join("\n---\n")}`);
});

afterAll(async () => {
  await nc?.close();
  for (const worker of workers) worker.child.kill("SIGTERM");
  await Promise.all(workers.map((worker) => worker.exited));
  await Promise.all(upstreams.map((upstream) => upstream.close()));
  await nats?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("live configuration", () => {
  let revision = 0;

  it("serves the file while nothing is stored", async () => {
    expect(await revisions()).toEqual(["file", "file"]);
    const list = await client.listModels();
    expect(list.config_revision).toBeUndefined();
    expect(list.data.map((model) => model.id).sort()).toEqual(["model-0", "model-1"]);
  });

  it("takes an applied configuration on every worker within a second, under load, failing no request", async () => {
    const next = structuredClone(base);
    next.models[0]!.cost = { input_per_million: 3, output_per_million: 10 };
    next.models.push({
      ...structuredClone(next.models[1]!),
      model_name: "model-new",
      upstream_model: "upstream-new",
    });
    const file = await writeConfig("v1.yaml", next);

    // Nothing stored yet: everything is new.
    const diff = await cli("diff", "--file", file);
    expect({ code: diff.code, stderr: diff.stderr }).toEqual({ code: 0, stderr: "" });
    expect(diff.stdout).toBe(
      "+ providers p0\n+ providers p1\n+ models model-0\n+ models model-1\n+ models model-new\n",
    );

    let stop = false;
    const failures: unknown[] = [];
    let served = 0;
    const load = Array.from({ length: 4 }, async () => {
      while (!stop) {
        await client.completeChat(hello("model-0")).then(
          () => void served++,
          (error: unknown) => void failures.push(error),
        );
      }
    });
    await eventually(
      () => Promise.resolve(served),
      (count) => count >= 8,
    );

    const started = performance.now();
    const result = await applyConfigFile(nc, { file, write: true });
    revision = result.revision!;
    expect(revision).toBeGreaterThan(0);
    const seen = await eventually(
      revisions,
      (now) => now.length === 2 && now.every((r) => r === String(revision)),
      5_000,
    );
    const tookMs = performance.now() - started;
    const servedAtSwap = served;
    await eventually(
      () => Promise.resolve(served),
      (count) => count >= servedAtSwap + 8,
    );
    stop = true;
    await Promise.all(load);

    expect(seen).toEqual([String(revision), String(revision)]);
    expect(tookMs).toBeLessThan(1_000);
    expect(failures).toEqual([]);
    const list = await client.listModels();
    expect(list.config_revision).toBe(revision);
    expect(list.data.find((model) => model.id === "model-0")?.cost_metrics.input_per_million).toBe(3);
    // The new model is served without a restart, by its provider, under its upstream name.
    upstreams[1]!.reset();
    await client.completeChat(hello("model-new"));
    expect(upstreams[1]!.requests.map((request) => (request.body as { model?: string }).model)).toEqual([
      "upstream-new",
    ]);
  });

  it("refuses an invalid configuration whole and keeps the one in force", async () => {
    const broken = structuredClone(base);
    broken.models[0]!.max_tokens = 0; // POL-LLM-002
    broken.models.push({
      ...structuredClone(broken.models[1]!),
      model_name: "orphan",
      provider_id: "nowhere",
    });
    const result = await cli("apply", "--file", await writeConfig("broken.yaml", broken));
    expect(result.code).toBe(7);
    expect(result.stderr).toContain("[POL-LLM-002] models[0].max_tokens");
    expect(result.stderr).toContain("nowhere");
    // Still the applied content: the diff back to the workers' file shows exactly what it changed.
    const diff = await cli("diff", "--file", await writeConfig("same.yaml", base));
    expect({ code: diff.code, stderr: diff.stderr }).toEqual({ code: 0, stderr: "" });
    expect(diff.stdout).toBe("~ models model-0\n    cost.input_per_million: 3 → 2\n- models model-new\n");
    expect(await revisions()).toEqual([String(revision), String(revision)]);
    expect((await client.listModels()).config_revision).toBe(revision);
  });

  it("lets one of two concurrent applies over the same revision win; the other gets revision_conflict", async () => {
    const a = structuredClone(base);
    a.models[1]!.cost = { input_per_million: 5, output_per_million: 10 };
    const b = structuredClone(base);
    b.models[1]!.cost = { input_per_million: 7, output_per_million: 10 };
    const [fileA, fileB] = [await writeConfig("a.yaml", a), await writeConfig("b.yaml", b)];
    const results = await Promise.all([
      cli("apply", "--file", fileA, "--expect-revision", String(revision)),
      cli("apply", "--file", fileB, "--expect-revision", String(revision)),
    ]);
    const codes = results.map((r) => r.code).sort();
    expect(codes).toEqual([0, 3]);
    const loser = results.find((r) => r.code === 3)!;
    expect(loser.stderr).toContain("revision_conflict");
    const winner = results.findIndex((r) => r.code === 0);
    const applied = /applied: revision (\d+)/.exec(results[winner]!.stdout);
    revision = Number(applied?.[1]);
    await expectBothOn(String(revision));
    const price = (await client.listModels()).data.find((m) => m.id === "model-1")?.cost_metrics
      .input_per_million;
    expect(price).toBe(winner === 0 ? 5 : 7);
  });

  it("stops calling a deactivated provider and reports a model taken out of service, without a restart", async () => {
    const off = await cli("set-provider-active", "p1", "false");
    expect(off.code).toBe(0);
    expect(off.stdout).toContain("~ providers p1\n    is_active: true → false");
    revision = Number(/applied: revision (\d+)/.exec(off.stdout)?.[1]);
    await expectBothOn(String(revision));
    upstreams[1]!.reset();
    for (let i = 0; i < 4; i++) await expect(client.completeChat(hello("model-1"))).rejects.toThrow();
    expect(upstreams[1]!.requests).toEqual([]);

    const unavailable = await cli("set-model-available", "model-0", "false");
    expect(unavailable.code).toBe(0);
    revision = Number(/applied: revision (\d+)/.exec(unavailable.stdout)?.[1]);
    await expectBothOn(String(revision));
    const model = (await client.listModels()).data.find((m) => m.id === "model-0");
    expect(model?.is_available).toBe(false);

    const unknown = await cli("set-provider-active", "p9", "true");
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain("unknown_provider");
  });
});
