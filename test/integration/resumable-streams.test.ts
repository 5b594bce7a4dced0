// Resumable streams (`resumable: true`): the answer is also kept in JetStream, and a caller that
// lost part of it continues with resume_stream — replayed, then live, from any worker — and sees
// one sequence without gaps or duplicates, the same answer a stream that was never cut gives.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { createLlmProviderClient } from "@llm-provider/contracts";
import type { ChatStream, StreamChunk, StreamRestart } from "@llm-provider/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { stringify as toYaml } from "yaml";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { runMain, waitUntilServing } from "../support/main-process.js";
import { refusalOf } from "../support/refusal.js";
import { startTestService, testConfig, TEST_API_KEY } from "../support/service.js";
import type { TestService } from "../support/service.js";
import { collectStream } from "../support/streams.js";
import { eventually, until } from "../support/until.js";
import { countWorkers } from "../support/workers.js";

const PROMPT = "one two three four five six seven eight";
const ANSWER = `echo: ${PROMPT}`;

let nats: NatsServerHandle;
let upstream: FakeOpenAIServer;
let service: TestService;
let caller: NatsConnection;
let workDir: string;

const config = () => testConfig(nats.url, [upstream.baseUrl]);
const ask = (resumable = true) => ({
  model: "model-0",
  messages: [{ role: "user" as const, content: PROMPT }],
  resumable,
});

beforeAll(async () => {
  nats = await startNatsServer();
  upstream = await startFakeOpenAIServer({ apiKey: TEST_API_KEY });
  service = await startTestService(config());
  caller = await connect({ servers: nats.url });
  workDir = await mkdtemp(join(tmpdir(), "resumable-streams-"));
});

afterAll(async () => {
  await caller?.close();
  await service?.stop();
  await upstream?.close();
  await nats?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

beforeEach(() => upstream.reset());

/** A gate a `gated_stream` answer waits for. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** Reads `count` messages of a stream and keeps the iterator, to go on reading later. */
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

async function readRest(iterator: AsyncIterator<StreamChunk | StreamRestart>) {
  const read: (StreamChunk | StreamRestart)[] = [];
  for (let step = await iterator.next(); !step.done; step = await iterator.next()) read.push(step.value);
  return read;
}

const textOf = (messages: (StreamChunk | StreamRestart)[]) =>
  messages.map((message) => (message.type === "chunk" ? (message.delta.content ?? "") : "")).join("");
const seqsOf = (messages: { seq: number }[]) => messages.map((message) => message.seq);
const upTo = (count: number) => Array.from({ length: count }, (_v, index) => index);

describe("a resumable stream", () => {
  it("that nobody cuts is the same stream as a plain one", async () => {
    const plain = await collectStream(service.client.streamChat(ask(false)));
    const stream = service.client.streamChat(ask(), { requestId: "whole-1" });
    const kept = await collectStream(stream);
    expect(kept.error).toBeUndefined();
    expect(kept.text).toBe(ANSWER);
    expect(kept.text).toBe(plain.text);
    expect(seqsOf(kept.chunks)).toEqual(seqsOf(plain.chunks));
    // Read back from the start on another connection: the same messages, and the same end.
    const other = await connect({ servers: nats.url });
    try {
      const replay = createLlmProviderClient(other).resumeChatStream("whole-1", -1);
      const replayed = await collectStream(replay);
      expect(replayed.chunks).toEqual(kept.chunks);
      const done = await stream.done;
      expect(await replay.done).toEqual(done);
    } finally {
      await other.close();
    }
  });

  it("whose replies stop is resumed by the client, replayed then live, each message once", async () => {
    const held = gate();
    upstream.enqueue({ kind: "gated_stream", after: 3, gate: held.opened });
    const client = createLlmProviderClient(caller, { streamIdleMs: 400 });
    const stream = client.streamChat(ask(), { requestId: "idle-1" });
    const { iterator, read } = await readSome(stream, 2);
    // Nothing comes while the upstream is held: the client resumes (the stream and its resume in flight).
    const rest = readRest(iterator);
    await until("a resume in flight", () => service.app.service.inFlight() >= 2);
    held.open();
    const all = [...read, ...(await rest)];
    expect(seqsOf(all)).toEqual(upTo(all.length));
    expect(textOf(all)).toBe(ANSWER);
    expect((await stream.done).content).toBe(ANSWER);
    expect(upstream.requests).toHaveLength(1);
  });

  it("survives its caller's reconnect: the rest arrives exactly once and the answer is whole", async () => {
    const held = gate();
    upstream.enqueue({ kind: "gated_stream", after: 3, gate: held.opened });
    const nc = await connect({ servers: nats.url, reconnectTimeWait: 100 });
    try {
      const client = createLlmProviderClient(nc, { streamIdleMs: 1_000 });
      const stream = client.streamChat(ask(), { requestId: "reconnect-1" });
      const { iterator, read } = await readSome(stream, 2);
      const reconnected = (async () => {
        for await (const status of nc.status()) if (status.type === "reconnect") return;
      })();
      await nc.reconnect();
      // The answer goes on while the caller is away: what it misses comes from the kept stream.
      held.open();
      await reconnected;
      const all = [...read, ...(await readRest(iterator))];
      expect(seqsOf(all)).toEqual(upTo(all.length));
      expect(textOf(all)).toBe(ANSWER);
      expect((await stream.done).content).toBe(ANSWER);
    } finally {
      await nc.close();
    }
  });

  it("is continued from another connection after the first one closed", async () => {
    const held = gate();
    upstream.enqueue({ kind: "gated_stream", after: 3, gate: held.opened });
    const first = await connect({ servers: nats.url });
    const stream = createLlmProviderClient(first).streamChat(ask(), { requestId: "closed-1" });
    const { iterator, read } = await readSome(stream, 2);
    await first.close();
    await refusalOf(iterator.next());
    const second = await connect({ servers: nats.url });
    try {
      const resumed = createLlmProviderClient(second).resumeChatStream("closed-1", read.at(-1)!.seq);
      const rest = collectStream(resumed);
      held.open();
      const { chunks, error } = await rest;
      expect(error).toBeUndefined();
      expect(seqsOf([...read, ...chunks])).toEqual(upTo(read.length + chunks.length));
      expect(textOf(read) + textOf(chunks)).toBe(ANSWER);
      expect((await resumed.done).seq).toBe(read.length + chunks.length);
    } finally {
      await second.close();
    }
  });

  it("resumed, can be cancelled: the upstream call stops and the kept stream ends `cancelled`", async () => {
    const held = gate();
    upstream.enqueue({ kind: "gated_stream", after: 3, gate: held.opened });
    const first = await connect({ servers: nats.url });
    const stream = createLlmProviderClient(first).streamChat(ask(), { requestId: "cancel-1" });
    const { read } = await readSome(stream, 2);
    await first.close();
    const second = await connect({ servers: nats.url });
    try {
      const client = createLlmProviderClient(second);
      // From the start: the first chunk is at hand at once. The caller gives up on the resumed
      // stream after it: leaving the loop sends the cancel.
      for await (const message of client.resumeChatStream("cancel-1", -1)) {
        expect(message).toMatchObject({ type: "chunk", seq: 0 });
        break;
      }
      await until("the stream and its resume ended", () => service.app.service.inFlight() === 0);
      const after = await collectStream(client.resumeChatStream("cancel-1", read.at(-1)!.seq));
      expect(after.chunks).toEqual([]);
      expect(after.error).toMatchObject({ code: "cancelled" });
    } finally {
      held.open();
      await second.close();
    }
  });

  it("of an unknown request id is `not_found`; a kept request id cannot start another stream", async () => {
    const unknown = await collectStream(service.client.resumeChatStream("never-sent", -1));
    expect(unknown.error).toMatchObject({ code: "not_found", field: "request_id" });
    await collectStream(service.client.streamChat(ask(), { requestId: "used-1" }));
    const again = await collectStream(service.client.streamChat(ask(), { requestId: "used-1" }));
    expect(again.error).toMatchObject({ code: "invalid_request", field: "Request-Id" });
    expect(upstream.requests).toHaveLength(1);
  });

  it("a bad resume request is refused by field", async () => {
    const refused = await collectStream(service.client.resumeChatStream("x", -2));
    expect(refused.error).toMatchObject({ code: "invalid_request", field: "after_seq" });
  });

  it("expires after max_age_ms: then `not_found`", async () => {
    const short = await startNatsServer();
    const expiring = await startTestService({
      ...testConfig(short.url, [upstream.baseUrl]),
      resumable_streams: { max_age_ms: 1_500, idle_timeout_ms: 1_000 },
    });
    try {
      const { text } = await collectStream(expiring.client.streamChat(ask(), { requestId: "expire-1" }));
      expect(text).toBe(ANSWER);
      const codeOf = async () =>
        (await collectStream(expiring.client.resumeChatStream("expire-1", -1))).error?.code;
      expect(await codeOf()).toBeUndefined();
      expect(await eventually(codeOf, (code) => code === "not_found", 15_000)).toBe("not_found");
    } finally {
      await expiring.stop();
      await short.stop();
    }
  });
});

describe("a stream resumed on another worker process", () => {
  it("is followed live from the kept messages while the worker that answers it finishes", async () => {
    const configPath = join(workDir, "worker.yaml");
    await writeFile(configPath, toYaml(config()));
    const held = gate();
    upstream.enqueue({ kind: "gated_stream", after: 3, gate: held.opened });
    const first = await connect({ servers: nats.url });
    const stream = createLlmProviderClient(first).streamChat(ask(), { requestId: "elsewhere-1" });
    const { read } = await readSome(stream, 2);
    await first.close();
    const other = runMain(configPath, { TEST_OPENAI_KEY: TEST_API_KEY });
    const second = await connect({ servers: nats.url });
    try {
      await waitUntilServing(second, other);
      // Both serve (the in-process worker alone answers a ping while the process starts).
      expect(
        await eventually(
          () => countWorkers(second, 1_000),
          (count) => count === 2,
        ),
      ).toBe(2);
      // The in-process worker stops taking requests and finishes its stream: only the process
      // can answer the resume.
      const stopped = service.app.stop(30_000);
      expect(
        await eventually(
          () => countWorkers(second, 1_000),
          (count) => count === 1,
        ),
      ).toBe(1);
      const resumed = createLlmProviderClient(second).resumeChatStream("elsewhere-1", read.at(-1)!.seq);
      const rest = collectStream(resumed);
      held.open();
      const { chunks, error } = await rest;
      expect(error, other.output().stdout.slice(-3_000)).toBeUndefined();
      expect(textOf(read) + textOf(chunks)).toBe(ANSWER);
      expect(seqsOf([...read, ...chunks])).toEqual(upTo(read.length + chunks.length));
      await stopped;
    } finally {
      held.open();
      other.child.kill("SIGTERM");
      await other.exited;
      await second.close();
      service = await startTestService(config());
    }
  });
});
