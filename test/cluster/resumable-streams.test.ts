// A resumable stream on a 3-node JetStream cluster with R3 state: the node the caller is connected
// to dies mid-answer, the caller reconnects to another node, and its client resumes the stream from
// the replicated kept messages by itself — every chunk once, the answer whole.
import type { ChatStream, StreamChunk, StreamRestart } from "@llm-provider/contracts";
import { connect } from "@nats-io/transport-node";
import { createLlmProviderClient } from "@llm-provider/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConfigInput } from "../../services/llm-provider/src/config/schema.js";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsCluster } from "../harness/nats-cluster.js";
import type { NatsClusterHandle } from "../harness/nats-cluster.js";
import { startTestService, TEST_API_KEY, testConfig } from "../support/service.js";
import type { TestService } from "../support/service.js";

const KEPT_STREAM = "LLM_PROVIDER_STREAMS";
const PROMPT = "one two three four five six seven eight";

let cluster: NatsClusterHandle;
let upstream: FakeOpenAIServer;
let service: TestService | undefined;

function clusterConfig(server: string): ConfigInput {
  return testConfig(server, [upstream.baseUrl], {
    events: { replicas: 3, publish_timeout_ms: 2_000 },
    embedding_cache: { replicas: 3 },
    health: { replicas: 3 },
    circuit_breaker: { failure_threshold: 1_000, replicas: 3 },
    rate_limits: { replicas: 3 },
    spend: { replicas: 3 },
    idempotency: { replicas: 3 },
    jobs: { replicas: 3 },
    resumable_streams: { replicas: 3 },
  });
}

beforeAll(async () => {
  cluster = await startNatsCluster(3);
  upstream = await startFakeOpenAIServer({ apiKey: TEST_API_KEY });
  await cluster.waitForJetStream();
}, 60_000);

afterAll(async () => {
  await service?.stop();
  await upstream?.close();
  await cluster?.stop();
});

async function readSome(stream: ChatStream, count: number) {
  const iterator = stream[Symbol.asyncIterator]();
  const read: (StreamChunk | StreamRestart)[] = [];
  while (read.length < count) {
    const step = await iterator.next();
    if (step.done) throw new Error("the stream ended early");
    read.push(step.value);
  }
  return { iterator, read };
}

describe("a resumable stream on a 3-node cluster", () => {
  it("goes on after the caller's node dies: the client reconnects elsewhere and resumes by itself", async () => {
    // The worker on the node leading the kept stream, the caller on another one (so the kept
    // messages keep their leader and the worker its connection when the caller's node dies).
    service = await startTestService(clusterConfig(cluster.urls[0]!));
    await cluster.waitForHealthy([KEPT_STREAM]);
    const leader = await cluster.streamLeader(KEPT_STREAM);
    await service.stop();
    service = await startTestService(clusterConfig(cluster.urls[leader]!));
    const callerNode = (leader + 1) % 3;
    const spareNode = (leader + 2) % 3;
    const nc = await connect({
      servers: [cluster.urls[callerNode]!, cluster.urls[spareNode]!],
      noRandomize: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
    });
    let open!: () => void;
    upstream.enqueue({
      kind: "gated_stream",
      after: 3,
      gate: new Promise<void>((resolve) => (open = resolve)),
    });
    try {
      // Long enough that the resumes it gives up after (5 without progress) span a leader
      // election on a loaded machine; short enough that the test notices the lost node quickly.
      const client = createLlmProviderClient(nc, { streamIdleMs: 3_000 });
      const stream = client.streamChat(
        { model: "model-0", messages: [{ role: "user", content: PROMPT }], resumable: true },
        { requestId: "cluster-resume-1" },
      );
      const { iterator, read } = await readSome(stream, 2);
      await cluster.kill(callerNode);
      // The answer goes on while the caller has no connection.
      open();
      for (let step = await iterator.next(); !step.done; step = await iterator.next()) read.push(step.value);
      expect(read.map((message) => message.seq)).toEqual(read.map((_message, index) => index));
      expect(
        read.map((message) => (message.type === "chunk" ? (message.delta.content ?? "") : "")).join(""),
      ).toBe(`echo: ${PROMPT}`);
      expect((await stream.done).content).toBe(`echo: ${PROMPT}`);
      // It did move: it is on the spare node now.
      expect(cluster.urls[spareNode]).toContain(nc.getServer().split(":").at(-1));
      expect(upstream.requests).toHaveLength(1);
    } finally {
      open();
      await nc.close();
      await cluster.restart(callerNode);
      await cluster.waitForHealthy([KEPT_STREAM]);
    }
  }, 90_000);
});
