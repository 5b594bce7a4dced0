// What a hostile caller on the same NATS system tries, against the shipped account layout and,
// for the defence inside the service, against one shared account: choosing the reply subject,
// reading others' inboxes, cancelling others' streams, claiming another identity, reusing another
// caller's request id.
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import type { JetStreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { headers as createHeaders } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import { createLlmProviderClient, HEADERS, LlmProviderError, SUBJECTS } from "@llm-provider/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toKvToken } from "../../services/llm-provider/src/infra/kv/kv-token.js";
import { breakerKey } from "../../services/llm-provider/src/ports/breaker-board.js";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { resolveNatsServerBinary, startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { waitForEvents } from "../support/events.js";
import { startTestService, testConfig, TEST_API_KEY } from "../support/service.js";
import type { TestService } from "../support/service.js";
import { collectStream } from "../support/streams.js";
import { until } from "../support/until.js";
import {
  ACCOUNTS_CONF,
  accountsServiceConfig,
  connectAs,
  describeError,
  EVENT_STREAM,
  PASSWORDS,
  startAccountsServer,
  startPolicyGateway,
  startWorker,
} from "./accounts.js";
import type { RunningWorker } from "./accounts.js";

/** Reply subjects that, answered with the worker's rights, would change the service's state. */
const HOSTILE_REPLIES = [
  `$JS.API.STREAM.PURGE.${EVENT_STREAM}`,
  "$JS.API.STREAM.DELETE.KV_llm_provider_breakers",
  `$KV.llm_provider_breakers.${toKvToken(breakerKey("p0", "upstream-model-0"))}`,
  "$KV.llm_provider_embeddings.junk",
  "$KV.llm_provider_rate_limits.junk",
  "$KV.llm_provider_requests.junk",
  "$KV.llm_provider_spend.junk",
  SUBJECTS.chatCompletedEvent,
];

/** What the hostile replies could have changed: the event stream and the keys they aim at. */
async function snapshotState(jsm: JetStreamManager, nc: NatsConnection) {
  const kvm = new Kvm(nc);
  const events = (await jsm.streams.info(EVENT_STREAM)).state;
  const breaker = await (
    await kvm.open("llm_provider_breakers")
  ).get(toKvToken(breakerKey("p0", "upstream-model-0")));
  return {
    events: { messages: events.messages, first_seq: events.first_seq, last_seq: events.last_seq },
    breakerRevision: breaker?.revision ?? 0,
    streams: (await jsm.streams.names().next()).sort(),
    junk: [
      await (await kvm.open("llm_provider_embeddings")).get("junk"),
      await (await kvm.open("llm_provider_rate_limits")).get("junk"),
      await (await kvm.open("llm_provider_requests")).get("junk"),
      await (await kvm.open("llm_provider_spend")).get("junk"),
    ],
  };
}

describe("with the shipped accounts", () => {
  let nats: NatsServerHandle;
  let upstream: FakeOpenAIServer;
  let worker: RunningWorker;
  let gateway: Awaited<ReturnType<typeof startPolicyGateway>>;
  let memory: NatsConnection;
  let query: NatsConnection;
  let admin: NatsConnection;

  beforeAll(async () => {
    nats = await startAccountsServer();
    upstream = await startFakeOpenAIServer({ apiKey: TEST_API_KEY });
    gateway = await startPolicyGateway(nats);
    worker = await startWorker(
      nats,
      // Small enough that a reply of a few vectors is stored in the replies Object Store.
      accountsServiceConfig(nats.url, upstream.baseUrl, { idempotency: { inline_max_bytes: 1_024 } }),
    );
    memory = (await connectAs(nats, "memory")).nc;
    query = (await connectAs(nats, "query")).nc;
    admin = (await connectAs(nats, "bootstrap")).nc;
  });

  afterAll(async () => {
    for (const nc of [memory, query, admin]) await nc?.close();
    await worker?.app.stop(1_000);
    await gateway?.close();
    await upstream?.close();
    await nats?.stop();
  });

  it("a caller's chosen reply subject never reaches the service's account", async () => {
    const client = createLlmProviderClient(memory);
    await client.completeChat({ model: "model-0", messages: [{ role: "user", content: "make an event" }] });
    const jsm = await jetstreamManager(admin);
    await waitForEvents(admin, (events) => events.length >= 1);
    const before = await snapshotState(jsm, admin);
    for (const reply of HOSTILE_REPLIES) {
      memory.publish(SUBJECTS.listModels, "", { reply });
      memory.publish(SUBJECTS.getProviderHealth, "", { reply });
    }
    // The worker takes the messages of one connection in order: once this is answered, so were those.
    expect((await client.listModels()).object).toBe("list");
    expect(await snapshotState(jsm, admin)).toEqual(before);
  });

  it("a caller cannot read another caller's replies", async () => {
    const snoop = memory.subscribe("_INBOX.>"); // allowed: its own account's inboxes
    const seen: string[] = [];
    void (async () => {
      for await (const msg of snoop) seen.push(msg.subject);
    })();
    await memory.flush();
    const queryClient = createLlmProviderClient(query);
    await queryClient.completeChat({ model: "model-0", messages: [{ role: "user", content: "secret" }] });
    await queryClient.generateEmbedding({ model: "embedder", input: ["secret"] });
    await collectStream(
      queryClient.streamChat({ model: "model-0", messages: [{ role: "user", content: "s e" }] }),
    );
    await memory.flush();
    expect(seen).toEqual([]);
    // The subscription works: memory's own replies land in it.
    await createLlmProviderClient(memory).listModels();
    await until("memory's own reply seen", () => seen.length > 0);
    snoop.unsubscribe();
  });

  it("a caller cannot cancel another caller's stream, even one with the same request id", async () => {
    upstream.enqueue({ kind: "delay", ms: 10_000 }, { kind: "delay", ms: 10_000 });
    const upstreamCalls = upstream.requests.length;
    const request = { model: "model-0", messages: [{ role: "user" as const, content: "long answer" }] };
    const theirs = collectStream(
      createLlmProviderClient(query).streamChat(request, { requestId: "shared-id" }),
    );
    const mine = collectStream(
      createLlmProviderClient(memory).streamChat(request, { requestId: "shared-id" }),
    );
    // Both upstream calls made (and both delays taken from the queue, so no later test meets one).
    await until("both streams upstream", () => upstream.requests.length === upstreamCalls + 2);
    expect(worker.app.service.inFlight()).toBe(2);

    // memory cancels "shared-id": its own stream only.
    memory.publish(SUBJECTS.cancelStream, JSON.stringify({ request_id: "shared-id" }));
    expect((await mine).error).toMatchObject({ code: "cancelled" });
    expect(worker.app.service.inFlight()).toBe(1);
    // Another context's cancel of the same id changes nothing either.
    const ingest = (await connectAs(nats, "ingest")).nc;
    ingest.publish(SUBJECTS.cancelStream, JSON.stringify({ request_id: "shared-id" }));
    await createLlmProviderClient(ingest).listModels(); // processed after the cancel (one connection, in order)
    await ingest.close();
    expect(worker.app.service.inFlight()).toBe(1);
    // The owner can.
    query.publish(SUBJECTS.cancelStream, JSON.stringify({ request_id: "shared-id" }));
    expect((await theirs).error).toMatchObject({ code: "cancelled" });
  });

  it("a caller cannot claim another caller's identity", async () => {
    // Through a subject: the caller's account has no import of another context's export…
    const direct = await memory
      .request("llm-provider.ctx.ingest.cmd.complete_chat", "{}", { timeout: 1_000 })
      .then(
        () => "answered",
        (error: unknown) => describeError(error),
      );
    expect(direct).toMatch(/permission|no responders/i);
    // … and the server refuses a configuration that would give it one.
    const dir = await mkdtemp(join(tmpdir(), "llm-spoof-"));
    try {
      const spoofing = (await readFile(ACCOUNTS_CONF, "utf8")).replace(
        '{ service: { account: LLM, subject: "llm-provider.ctx.memory.qry.>" }, to: "llm-provider.qry.>" }',
        '{ service: { account: LLM, subject: "llm-provider.ctx.memory.qry.>" }, to: "llm-provider.qry.>" }\n' +
          '      { service: { account: LLM, subject: "llm-provider.ctx.ingest.cmd.complete_chat" }, to: "spoof.complete_chat" }',
      );
      expect(spoofing).toContain("spoof.complete_chat");
      await writeFile(join(dir, "spoof.conf"), `listen: 127.0.0.1:-1\n${spoofing}`);
      const check = spawnSync(await resolveNatsServerBinary(), ["-c", join(dir, "spoof.conf"), "-t"], {
        env: { ...process.env, ...PASSWORDS },
        encoding: "utf8",
      });
      expect(check.status).not.toBe(0);
      expect(check.stdout + check.stderr).toMatch(/not authorized/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    // Through a header (spoofable on servers before 2.11.15/2.12.6) or the body: not read.
    const hdrs = createHeaders();
    hdrs.set("Nats-Request-Info", JSON.stringify({ acc: "INGEST" }));
    hdrs.set(HEADERS.requestId, "spoof-1");
    const reply = await memory.request(
      SUBJECTS.completeChat,
      JSON.stringify({ model: "model-0", messages: [{ role: "user", content: "who am I" }] }),
      { headers: hdrs, timeout: 5_000 },
    );
    expect(reply.json<{ content: string }>().content).toBe("echo: who am I");
    expect(gateway.asked.find((asked) => asked.request_id === "spoof-1")?.caller).toBe("memory");
    const events = await waitForEvents(admin, (all) =>
      all.some((stored) => stored.event.request_id === "spoof-1"),
    );
    expect(events.find((stored) => stored.event.request_id === "spoof-1")!.event.caller).toBe("memory");
    const withField = await createLlmProviderClient(memory)
      .completeChat({
        model: "model-0",
        messages: [{ role: "user", content: "x" }],
        ...({ caller: "ingest" } as object),
      })
      .catch((error: unknown) => error);
    expect(withField).toMatchObject({ code: "invalid_request", field: "caller" });
  });

  it("one caller's request id never suppresses or replaces another caller's event", async () => {
    const request = { model: "model-0", messages: [{ role: "user" as const, content: "same id" }] };
    await createLlmProviderClient(query).completeChat(request, { requestId: "order-4711" });
    await createLlmProviderClient(memory).completeChat(request, { requestId: "order-4711" });
    // A retry by the same caller is still one event.
    await createLlmProviderClient(memory).completeChat(request, { requestId: "order-4711" });
    const events = await waitForEvents(
      admin,
      (all) => all.filter((stored) => stored.event.request_id === "order-4711").length >= 2,
    );
    const stored = events.filter((event) => event.event.request_id === "order-4711");
    expect(stored.map((event) => event.event.caller).sort()).toEqual(["memory", "query"]);
    expect(new Set(stored.map((event) => event.msgId)).size).toBe(2);
  });

  it("a caller reusing another caller's Request-Id for embeddings gets its own result, never the other's", async () => {
    const owner = createLlmProviderClient(query);
    const reuser = createLlmProviderClient(memory);
    const secret = { model: "embedder", input: Array.from({ length: 40 }, (_, i) => `query's secret ${i}`) };
    const original = await owner.generateEmbedding(secret, { requestId: "embed-4711" });
    await owner.generateEmbedding(secret, { requestId: "embed-4712" });

    // Another body under the owner's id: served as its caller's own request, not refused as a reuse.
    const own = await reuser.generateEmbedding(
      { model: "embedder", input: ["memory's text"] },
      { requestId: "embed-4711" },
    );
    expect(own.replayed).toBeUndefined();
    expect(own.data).toHaveLength(1);
    // The owner's very body under the owner's id: still a new request of its caller, no stored reply.
    const same = await reuser.generateEmbedding(secret, { requestId: "embed-4712" });
    expect(same.replayed).toBeUndefined();
    expect(same.data).toHaveLength(secret.input.length);

    // The owner's duplicate is replayed from the replies bucket, through the worker's rights.
    expect(await owner.generateEmbedding(secret, { requestId: "embed-4711" })).toEqual({
      ...original,
      replayed: true,
    });
    // A caller reaches no stored reply directly: the bucket lives in the service's account.
    const reading = await new Objm(memory).open("llm_provider_replies").catch((error: unknown) => error);
    expect(reading).toBeInstanceOf(Error);
  });
});

describe("inside one shared account (defence in depth)", () => {
  let nats: NatsServerHandle;
  let upstream: FakeOpenAIServer;
  let service: TestService;

  beforeAll(async () => {
    nats = await startNatsServer();
    upstream = await startFakeOpenAIServer({ apiKey: TEST_API_KEY });
    service = await startTestService(testConfig(nats.url, [upstream.baseUrl]));
  });

  afterAll(async () => {
    await service?.stop();
    await upstream?.close();
    await nats?.stop();
  });

  it("a request whose reply subject is not an inbox is not served, counted, and logged once per caller", async () => {
    await service.client.completeChat({ model: "model-0", messages: [{ role: "user", content: "event" }] });
    const jsm = await jetstreamManager(service.nc);
    await waitForEvents(service.nc, (events) => events.length >= 1);
    const before = await snapshotState(jsm, service.nc);
    for (let round = 0; round < 3; round++) {
      for (const reply of [...HOSTILE_REPLIES, "_INBOX.*", "_INBOX.>", "_INBOX..x"]) {
        service.nc.publish(SUBJECTS.listModels, "", { reply });
      }
    }
    service.nc.publish(SUBJECTS.listModels, ""); // no reply subject at all
    await service.nc.flush();
    const refusedOf = () =>
      (service.app.service.metrics.snapshot(SUBJECTS.listModels, 0) as { refused: number }).refused;
    await until("every hostile request refused", () => refusedOf() === 3 * (HOSTILE_REPLIES.length + 3) + 1);
    expect(await snapshotState(jsm, service.nc)).toEqual(before);
    const warnings = service.logs.filter((line) => line.includes("not served"));
    expect(warnings).toHaveLength(2); // one per caller and reason (reply subject, none)
    expect(warnings.join("")).toContain('"caller":"anonymous"');
    // Inboxes are still answered, including a configured per-user prefix.
    expect((await service.client.listModels()).object).toBe("list");
  });

  it("a malformed Request-Id is refused, not echoed", async () => {
    for (const requestId of ["x".repeat(129), "has space", 'quote"d', "-leading-dash", "ünïcode"]) {
      const hdrs = createHeaders();
      hdrs.set(HEADERS.requestId, requestId);
      const reply = await service.nc.request(SUBJECTS.listModels, "", { headers: hdrs, timeout: 5_000 });
      const body = reply.json<{ error: { code: string; field: string } }>();
      expect(body.error, requestId).toMatchObject({ code: "invalid_request", field: "Request-Id" });
      expect(reply.headers?.get(HEADERS.requestId)).not.toBe(requestId);
    }
    await expect(service.client.listModels({}, { requestId: "has space" })).rejects.toBeInstanceOf(
      LlmProviderError,
    );
  });
});
