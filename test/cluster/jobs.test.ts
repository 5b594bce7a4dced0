// A durable embedding job on a 3-node JetStream cluster with R3 job state and two worker
// processes: one worker is SIGKILLed mid-job, then the node leading the items stream is killed.
// Every item still gets exactly one result, each the provider's vector.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { createLlmProviderClient } from "@llm-provider/contracts";
import type { EmbeddingJobResult } from "@llm-provider/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify as toYaml } from "yaml";
import { parseConfig } from "../../services/llm-provider/src/config/load-config.js";
import type { ConfigInput } from "../../services/llm-provider/src/config/schema.js";
import { ensureJetStreamState } from "../../services/llm-provider/src/infra/jetstream/jetstream-state.js";
import { fakeEmbedding, startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsCluster } from "../harness/nats-cluster.js";
import type { NatsClusterHandle } from "../harness/nats-cluster.js";
import { runMain, waitUntilServing } from "../support/main-process.js";
import { embedderModel, TEST_API_KEY, testConfig } from "../support/service.js";
import { until } from "../support/until.js";

const ITEMS = 2_000;
const BATCH_ITEMS = 16;
const JOB_STREAMS = ["LLM_PROVIDER_JOB_ITEMS", "LLM_PROVIDER_JOB_RESULTS", "KV_llm_provider_jobs"];

let cluster: NatsClusterHandle;
let upstream: FakeOpenAIServer;
let workDir: string;
let caller: NatsConnection;

function clusterConfig(server: string): ConfigInput {
  const base = testConfig(server, [upstream.baseUrl], {
    events: { replicas: 3, publish_timeout_ms: 2_000 },
    embedding_cache: { replicas: 3, claim_timeout_ms: 1_500 },
    health: { replicas: 3 },
    circuit_breaker: { failure_threshold: 1_000, replicas: 3 },
    rate_limits: { replicas: 3 },
    spend: { replicas: 3 },
    idempotency: { replicas: 3 },
    jobs: {
      replicas: 3,
      ack_wait_ms: 2_000,
      retry_base_ms: 100,
      batch_items: BATCH_ITEMS,
      concurrent_batches: 2,
    },
  });
  return { ...base, models: [...base.models, embedderModel({ max_batch_size: BATCH_ITEMS })] };
}

beforeAll(async () => {
  cluster = await startNatsCluster(3);
  upstream = await startFakeOpenAIServer({ apiKey: TEST_API_KEY, defaultDelayMs: 20 });
  workDir = await mkdtemp(join(tmpdir(), "llm-provider-cluster-jobs-"));
  caller = await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  await ensureJetStreamState(caller, parseConfig(clusterConfig(cluster.urls[0]!), "cluster jobs test"));
  await cluster.waitForHealthy(JOB_STREAMS);
}, 60_000);

afterAll(async () => {
  await caller?.close();
  await upstream?.close();
  await cluster?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe("a job on a 3-node cluster", () => {
  it("survives a worker SIGKILL and the loss of its items stream's leader, every item answered once", async () => {
    const workers = await Promise.all(
      [0, 1].map(async (index) => {
        const path = join(workDir, `worker-${index}.yaml`);
        await writeFile(path, toYaml(clusterConfig(cluster.urls[index]!)));
        return runMain(path, { TEST_OPENAI_KEY: TEST_API_KEY });
      }),
    );
    try {
      for (const worker of workers) await waitUntilServing(caller, worker);
      const client = createLlmProviderClient(caller, { timeouts: { query: 10_000 } });
      const inputs = Array.from({ length: ITEMS }, (_, i) => `cluster item ${i}`);
      const job = await client.submitEmbeddingJob({ model: "embedder", items: inputs });
      const embedded = () => upstream.requests.filter((request) => request.path === "/v1/embeddings").length;
      await until("a fifth of the items upstream", () => embedded() * BATCH_ITEMS > ITEMS / 5, 30_000);
      workers[0]!.child.kill("SIGKILL");
      await workers[0]!.exited;
      // The items stream's leader goes while the surviving worker pulls from it.
      const leader = await cluster.streamLeader("LLM_PROVIDER_JOB_ITEMS");
      await until(
        "two fifths of the items upstream",
        () => embedded() * BATCH_ITEMS > (2 * ITEMS) / 5,
        30_000,
      );
      await cluster.kill(leader);

      const seen = new Map<string, EmbeddingJobResult>();
      try {
        for await (const result of job) {
          expect(seen.has(result.item_id), `a second result for item ${result.item_id}`).toBe(false);
          seen.set(result.item_id, result);
        }
      } catch (error) {
        // What the surviving worker went through, for a failure on a machine far from this one.
        const survivor = workers[1]!;
        const { stdout, stderr } = survivor.output();
        throw new Error(
          `${String(error)} after ${seen.size} results; survivor exit ${survivor.child.exitCode}, ` +
            `signal ${survivor.child.signalCode}:\n${stdout.slice(-4_000)}\n${stderr.slice(-2_000)}`,
          { cause: error },
        );
      }
      expect(seen.size).toBe(ITEMS);
      inputs.forEach((text, index) => {
        const result = seen.get(String(index));
        expect(result?.ok).toBe(true);
        if (result?.ok)
          expect(Array.from(Float32Array.from(result.embedding as number[]))).toEqual(
            Array.from(fakeEmbedding(text, 8)),
          );
      });
      expect(await job.status()).toMatchObject({ state: "completed", succeeded: ITEMS, failed: 0 });
    } finally {
      for (const worker of workers) worker.child.kill("SIGKILL");
      await Promise.all(workers.map((worker) => worker.exited));
    }
  }, 120_000);
});
