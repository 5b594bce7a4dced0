// Scale-out on a real 3-node JetStream cluster (issue #7): two service processes, R3 state, steady
// load from a caller that retries with the same request id. Kill the node a worker is connected
// to, then the event stream's leader: every request is answered, every answered request has its
// event exactly once, state stays readable. Kill a worker: its in-flight requests fail within the
// caller's deadline and the other worker answers the rest.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { createLlmProviderClient, LlmProviderError } from "@llm-provider/contracts";
import type { LlmProviderClient } from "@llm-provider/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify as toYaml } from "yaml";
import { parseConfig } from "../../services/llm-provider/src/config/load-config.js";
import type { ConfigInput } from "../../services/llm-provider/src/config/schema.js";
import { ensureJetStreamState } from "../../services/llm-provider/src/infra/jetstream-state.js";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsCluster } from "../harness/nats-cluster.js";
import type { NatsClusterHandle } from "../harness/nats-cluster.js";
import { readEvents } from "../support/events.js";
import { TEST_API_KEY, testConfig } from "../support/service.js";

const root = resolve(import.meta.dirname, "../..");
/** The caller's deadline per request; a request a dead worker held must fail by then. */
const REQUEST_TIMEOUT_MS = 3_000;
const CONCURRENCY = 6;
const UPSTREAM_DELAY_MS = 30;

let cluster: NatsClusterHandle;
let upstream: FakeOpenAIServer;
let workDir: string;
let caller: NatsConnection;
let client: LlmProviderClient;
const workers: Worker[] = [];
/** Connected to node 0 (`workers` is in start-up order, which is not fixed). */
let workerA: Worker;

interface Worker {
  name: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function clusterConfig(servers: string | string[]): ConfigInput {
  return testConfig(typeof servers === "string" ? servers : servers[0]!, [upstream.baseUrl], {
    nats: { servers },
    events: { replicas: 3, publish_timeout_ms: 2_000 },
    embedding_cache: { replicas: 3 },
    health: { replicas: 3, flush_interval_ms: 500 },
    circuit_breaker: { failure_threshold: 1_000, replicas: 3 },
    rate_limits: { replicas: 3 },
    service: { shutdown_grace_ms: 2_000 },
  });
}

async function startWorker(name: string, server: string): Promise<Worker> {
  const configPath = join(workDir, `${name}.yaml`);
  await writeFile(configPath, toYaml(clusterConfig(server)));
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--conditions=source", "services/llm-provider/src/main.ts", "--config", configPath],
    { cwd: root, env: { ...process.env, TEST_OPENAI_KEY: TEST_API_KEY }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  const worker = { name, child, output: () => output, exited };
  workers.push(worker);
  const deadline = Date.now() + 20_000;
  while (!output.includes("llm-provider serving")) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`worker ${name} did not start:\n${output.slice(-3_000)}`);
    await sleep(50);
  }
  return worker;
}

beforeAll(async () => {
  cluster = await startNatsCluster(3);
  upstream = await startFakeOpenAIServer({ defaultDelayMs: UPSTREAM_DELAY_MS, recordRequests: false });
  workDir = await mkdtemp(join(tmpdir(), "llm-provider-cluster-"));
  // The caller knows every node, as a client of a cluster does.
  caller = await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  client = createLlmProviderClient(caller);
  // State placed ahead of the workers, R3, as `llm-provider-bootstrap` would.
  const state = await ensureJetStreamState(caller, parseConfig(clusterConfig(cluster.urls), "cluster test"));
  expect(state.every((resource) => resource.replicas === 3)).toBe(true);
  // Each worker is told one node only; it learns the others from the cluster and fails over.
  [workerA] = await Promise.all([startWorker("a", cluster.urls[0]!), startWorker("b", cluster.urls[1]!)]);
  await cluster.waitForHealthy(STATE_STREAMS);
}, 90_000);

afterAll(async () => {
  for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill("SIGTERM");
  await Promise.all(
    workers.map((worker) =>
      Promise.race([worker.exited, sleep(8_000).then(() => worker.child.kill("SIGKILL"))]),
    ),
  );
  await caller?.close();
  await upstream?.close();
  await cluster?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
}, 60_000);

interface LoadResult {
  answered: Set<string>;
  /** Failed attempts (later retried with the same id), with how long the caller waited. */
  failures: { id: string; code: string; waitedMs: number }[];
}

/** Steady load until `during` is done plus `tailMs`; each request is retried until answered. */
async function loadWhile(prefix: string, during: () => Promise<void>, tailMs = 1_500): Promise<LoadResult> {
  const result: LoadResult = { answered: new Set(), failures: [] };
  let next = 0;
  let running = true;
  const answer = async (id: string) => {
    const giveUpAt = Date.now() + 20_000;
    while (Date.now() < giveUpAt) {
      const started = performance.now();
      try {
        const completion = await client.completeChat(
          { model: "model-0", messages: [{ role: "user", content: `hello ${id}` }] },
          { requestId: id, timeoutMs: REQUEST_TIMEOUT_MS },
        );
        expect(completion.request_id).toBe(id);
        result.answered.add(id);
        return;
      } catch (error) {
        const code = error instanceof LlmProviderError ? error.code : String(error);
        result.failures.push({ id, code, waitedMs: performance.now() - started });
        await sleep(100);
      }
    }
    throw new Error(
      `request ${id} never answered: ${JSON.stringify(result.failures.slice(-3))}\n` +
        workers.map((worker) => `--- worker ${worker.name}:\n${worker.output().slice(-2_000)}`).join("\n"),
    );
  };
  const loops = Array.from({ length: CONCURRENCY }, async () => {
    while (running) await answer(`${prefix}-${next++}`);
  });
  await sleep(1_000); // steady state first
  await during();
  await sleep(tailMs);
  running = false;
  await Promise.all(loops);
  return result;
}

/** Every answered request has exactly one chat_completed event (retries de-duplicated). */
async function expectEventsExactlyOnce(prefix: string, answered: Set<string>): Promise<void> {
  const deadline = Date.now() + 30_000;
  let counts = new Map<string, number>();
  while (Date.now() < deadline) {
    counts = new Map();
    // While the stream elects a new leader, reading it times out: that is the election, retry.
    const events = await readEvents(caller).catch(() => undefined);
    if (!events) {
      await sleep(500);
      continue;
    }
    for (const { event } of events) {
      const id = event.request_id;
      if (event.type !== "llm-provider.chat_completed.v1" || !id.startsWith(`${prefix}-`)) continue;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    if ([...answered].every((id) => counts.has(id))) break;
    await sleep(500);
  }
  const missing = [...answered].filter((id) => !counts.has(id));
  const duplicated = [...counts].filter(([, count]) => count > 1);
  expect({ missing, duplicated }).toEqual({ missing: [], duplicated: [] });
  expect(counts.size).toBe(answered.size); // and none for a request nobody got an answer to
}

/**
 * The buckets answer reads and writes again within a leader election (a bucket whose leader was
 * on the lost node is briefly without one), and the health query works.
 */
async function expectStateReadable(): Promise<void> {
  const kvm = new Kvm(caller);
  for (const bucket of ["llm_provider_health", "llm_provider_embeddings", "llm_provider_breakers"]) {
    const kv = await kvm.open(bucket);
    const started = Date.now();
    for (;;) {
      try {
        await kv.put("probe.readable", "yes");
        expect((await kv.get("probe.readable"))?.string()).toBe("yes");
        await kv.delete("probe.readable");
        break;
      } catch (error) {
        if (Date.now() - started > 15_000)
          throw new Error(`bucket ${bucket} unusable for 15 s: ${String(error)}`);
        await sleep(250);
      }
    }
  }
  const started = Date.now();
  for (;;) {
    try {
      const health = await client.getProviderHealth({ provider_id: "p0" }, { timeoutMs: REQUEST_TIMEOUT_MS });
      expect(health).toMatchObject({ provider_id: "p0" });
      break;
    } catch (error) {
      if (Date.now() - started > 15_000) throw error;
    }
  }
}

const STATE_STREAMS = [
  "LLM_PROVIDER_EVENTS",
  "KV_llm_provider_health",
  "KV_llm_provider_embeddings",
  "KV_llm_provider_breakers",
  "KV_llm_provider_rate_limits",
];

/** Both workers answer `$SRV.PING` again (the one whose node died has reconnected elsewhere). */
async function expectBothWorkersServing(): Promise<void> {
  const deadline = Date.now() + 15_000;
  let seen = 0;
  while (Date.now() < deadline) {
    const replies = await caller.requestMany("$SRV.PING.llm-provider", "", { maxWait: 500 });
    seen = 0;
    for await (const _reply of replies) seen++;
    if (seen === 2) return;
  }
  expect(seen).toBe(2);
}

describe("a 3-node JetStream cluster with two workers under load", () => {
  it("loses the node a worker is connected to: every request answered, every event stored once", async () => {
    const result = await loadWhile("node-loss", async () => {
      await cluster.nodes[0]!.kill();
      await sleep(3_000);
    });
    expect(result.answered.size).toBeGreaterThan(50);
    await expectStateReadable(); // with a node still down: R3 keeps a quorum
    await expectEventsExactlyOnce("node-loss", result.answered);
    // Worker A did lose its node (and, below, serves again through another one).
    for (let waited = 0; waited < 5_000 && !workerA.output().includes("NATS connection lost"); waited += 100)
      await sleep(100);
    expect(workerA.output(), workerA.output().slice(-3_000)).toContain("NATS connection lost");
    await expectBothWorkersServing();
    await cluster.nodes[0]!.restart();
    await cluster.waitForHealthy(STATE_STREAMS);
  }, 90_000);

  it("loses the event stream's leader: every request answered, every event stored once", async () => {
    const leader = await cluster.streamLeader("LLM_PROVIDER_EVENTS");
    const result = await loadWhile("leader-loss", async () => {
      await cluster.nodes[leader]!.kill();
      await sleep(3_000);
    });
    expect(result.answered.size).toBeGreaterThan(50);
    await expectStateReadable();
    await expectEventsExactlyOnce("leader-loss", result.answered);
    expect(await cluster.streamLeader("LLM_PROVIDER_EVENTS")).not.toBe(leader);
    await expectBothWorkersServing();
    await cluster.nodes[leader]!.restart();
    await cluster.waitForHealthy(STATE_STREAMS);
  }, 90_000);

  it("loses a worker: its in-flight requests fail within the caller's deadline, the other answers the rest", async () => {
    const result = await loadWhile("worker-loss", async () => {
      workerA.child.kill("SIGKILL");
      await workerA.exited;
      await sleep(2_000);
    });
    expect(result.answered.size).toBeGreaterThan(50);
    // The requests worker A held when it died: timed out for the caller, never hung beyond that.
    const lost = result.failures.filter((failure) => failure.code === "request_timeout");
    for (const failure of result.failures) expect(failure.waitedMs).toBeLessThan(REQUEST_TIMEOUT_MS + 1_000);
    expect(lost.length).toBeLessThanOrEqual(CONCURRENCY);
    // …and every one of them was answered when the caller retried (worker B).
    for (const failure of lost) expect(result.answered.has(failure.id)).toBe(true);
  }, 90_000);
});
