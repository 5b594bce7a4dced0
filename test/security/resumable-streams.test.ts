// Resumable streams with the shipped accounts: a calling context resumes its own stream through
// its imports (the export answers with many messages), and a stream belongs to its caller —
// another context that knows the request id resumes, reads and cancels nothing of it, and no
// caller can read the service's stream of kept messages directly.
import type { NatsConnection } from "@nats-io/nats-core";
import { createLlmProviderClient } from "@llm-provider/contracts";
import type { StreamChunk, StreamRestart } from "@llm-provider/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { TEST_API_KEY } from "../support/service.js";
import { collectStream } from "../support/streams.js";
import { until } from "../support/until.js";
import {
  accountsServiceConfig,
  connectAs,
  startAccountsServer,
  startPolicyGateway,
  startWorker,
} from "./accounts.js";
import type { RunningWorker } from "./accounts.js";

const PROMPT = "one two three four five six";

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

const ask = { model: "model-0", messages: [{ role: "user" as const, content: PROMPT }], resumable: true };

async function firstTwo(stream: AsyncIterable<StreamChunk | StreamRestart>) {
  const iterator = stream[Symbol.asyncIterator]();
  const read = [(await iterator.next()).value, (await iterator.next()).value] as StreamChunk[];
  return { iterator, read };
}

describe("resumable streams across accounts", () => {
  it("a caller resumes its own stream through its imports; another caller gets not_found and cancels nothing", async () => {
    let open!: () => void;
    upstream.enqueue({
      kind: "gated_stream",
      after: 3,
      gate: new Promise<void>((resolve) => (open = resolve)),
    });
    const mine = createLlmProviderClient(memory.nc);
    const stream = mine.streamChat(ask, { requestId: "shared-id" });
    const { iterator, read } = await firstTwo(stream);
    expect(read.map((chunk) => chunk.seq)).toEqual([0, 1]);

    // Another context that knows (or guesses) the request id: its resume looks under its own name.
    const other = createLlmProviderClient(query.nc);
    const snooped = await collectStream(other.resumeChatStream("shared-id", -1));
    expect(snooped.chunks).toEqual([]);
    expect(snooped.error).toMatchObject({ code: "not_found" });
    // Its cancel of that id (leaving a resume early, or sent as is) does not reach the stream.
    query.nc.publish("llm-provider.cmd.cancel_stream", JSON.stringify({ request_id: "shared-id" }));
    await query.nc.flush();

    // The owner resumes from the start on the same connection and reads it all, live included.
    const resumed = mine.resumeChatStream("shared-id", -1);
    const all = collectStream(resumed);
    open();
    const { chunks, error } = await all;
    expect(error).toBeUndefined();
    expect(chunks.map((chunk) => chunk.delta.content ?? "").join("")).toBe(`echo: ${PROMPT}`);
    expect(chunks.map((chunk) => chunk.seq)).toEqual(chunks.map((_chunk, index) => index));
    // The first stream, not cancelled, finishes too.
    for (let step = await iterator.next(); !step.done; step = await iterator.next());
    expect((await stream.done).content).toBe(`echo: ${PROMPT}`);
    expect((await resumed.done).finish_reason).toBe("stop");
    expect(memory.violations).toEqual([]);
    expect(worker.logs.join("")).not.toMatch(/Permissions Violation/i);
  });

  it("no caller can read the kept messages directly: the subjects are the service account's own", async () => {
    query.nc.subscribe("llm-provider.resumable.>");
    query.nc.subscribe("llm-provider.resumable.memory.>");
    await query.nc.flush().catch(() => undefined);
    await until(
      "both subscriptions refused",
      () => query.violations.filter((violation) => /llm-provider\.resumable/.test(violation)).length >= 1,
    );
    expect(query.violations.join("\n")).toMatch(
      /Permissions Violation for Subscription to "llm-provider\.resumable/,
    );
    // Nor publish into them (a forged batch would be replayed to the stream's owner).
    query.nc.publish("llm-provider.resumable.memory.x", "[]");
    await until("the forged publish refused", () =>
      query.violations.some((violation) => /Publish to "llm-provider\.resumable/.test(violation)),
    );
  });
});
