// Durable jobs with the shipped accounts: a calling context submits a job through its imports (its
// items reach the service's stream, whose acknowledgement comes back through the import), and a
// job belongs to its caller — another context using the same job id sees, cancels and reads
// nothing of it, and cannot publish items into it.
import { headers as createHeaders } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import { createLlmProviderClient } from "@llm-provider/contracts";
import type { EmbeddingJobResult } from "@llm-provider/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { refusalOf } from "../support/refusal.js";
import { TEST_API_KEY } from "../support/service.js";
import {
  accountsServiceConfig,
  connectAs,
  describeError,
  startAccountsServer,
  startPolicyGateway,
  startWorker,
} from "./accounts.js";
import type { RunningWorker } from "./accounts.js";

let nats: NatsServerHandle;
let upstream: FakeOpenAIServer;
let worker: RunningWorker;
let gateway: Awaited<ReturnType<typeof startPolicyGateway>>;
let memory: { nc: NatsConnection; violations: string[] };
let query: { nc: NatsConnection; violations: string[] };

beforeAll(async () => {
  nats = await startAccountsServer();
  upstream = await startFakeOpenAIServer({ apiKey: TEST_API_KEY });
  gateway = await startPolicyGateway(nats);
  worker = await startWorker(nats, accountsServiceConfig(nats.url, upstream.baseUrl));
  memory = await connectAs(nats, "memory");
  query = await connectAs(nats, "query");
});

afterAll(async () => {
  for (const caller of [memory, query]) await caller?.nc.close();
  await worker?.app.stop(1_000);
  await gateway?.close();
  await upstream?.close();
  await nats?.stop();
});

async function readAll(results: AsyncIterable<EmbeddingJobResult>): Promise<EmbeddingJobResult[]> {
  const all: EmbeddingJobResult[] = [];
  for await (const result of results) all.push(result);
  return all;
}

describe("jobs across accounts", () => {
  it("a caller submits a job through its imports and reads its results; no right is missing", async () => {
    const client = createLlmProviderClient(memory.nc);
    const job = await client.submitEmbeddingJob({
      model: "embedder",
      job_id: "shared-name",
      items: ["a", "b"],
    });
    const results = await readAll(job);
    expect(results.map((result) => [result.item_id, result.ok])).toEqual([
      ["0", true],
      ["1", true],
    ]);
    expect(await job.status()).toMatchObject({ state: "completed", succeeded: 2, failed: 0 });
    expect(memory.violations).toEqual([]);
    expect(worker.logs.join("")).not.toMatch(/Permissions Violation/i);
    // The job carries its caller into the Policy Gateway's question, as a request does.
    expect(gateway.asked.some((asked) => JSON.stringify(asked).includes('"memory"'))).toBe(true);
  });

  it("another caller's same job id names its own job: it sees, reads and cancels nothing of the first", async () => {
    const other = createLlmProviderClient(query.nc);
    expect(await refusalOf(other.embeddingJob("shared-name").status())).toMatchObject({ code: "not_found" });
    expect(await refusalOf(other.embeddingJob("shared-name").cancel())).toMatchObject({ code: "not_found" });
    const own = await other.submitEmbeddingJob({ model: "embedder", job_id: "shared-name", items: ["x"] });
    const results = await readAll(own);
    expect(results).toHaveLength(1);
    expect(await createLlmProviderClient(memory.nc).embeddingJob("shared-name").status()).toMatchObject({
      state: "completed",
      total_items: 2,
      succeeded: 2,
    });
  });

  it("a caller cannot publish items into another caller's job, nor write results", async () => {
    const hdrs = createHeaders();
    hdrs.set("Nats-Msg-Id", "shared-name:intruder");
    for (const subject of [
      "llm-provider.ctx.memory.job_items.shared-name",
      "llm-provider.job_results.anything.ok",
    ]) {
      const refused = await query.nc
        .request(subject, JSON.stringify({ id: "intruder", input: "poison" }), {
          timeout: 1_000,
          headers: hdrs,
        })
        .then(
          () => "answered",
          (error: unknown) => describeError(error),
        );
      expect(refused).toMatch(/permission|no responders|timeout/i);
    }
    const results = await readAll(createLlmProviderClient(memory.nc).embeddingJob("shared-name"));
    expect(results.map((result) => result.item_id)).toEqual(["0", "1"]);
  });
});
