// Every role of the shipped account layout × every action that matters: allowed or denied, on a
// real nats-server with deploy/nats/accounts.conf (docs/security.md has the same table).
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { createLlmProviderClient, SUBJECTS } from "@llm-provider/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify as toYaml } from "yaml";
import { applyConfigFile } from "../../services/llm-provider/src/config-admin.js";
import { toKvToken } from "../../services/llm-provider/src/infra/kv/kv-token.js";
import { breakerKey } from "../../services/llm-provider/src/ports/breaker-board.js";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { resolveNatsServerBinary } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { collectStream } from "../support/streams.js";
import { until } from "../support/until.js";
import { TEST_API_KEY } from "../support/service.js";
import {
  accountsServiceConfig,
  connectAs,
  describeError,
  EVENT_STREAM,
  EVENTS_API_PREFIX,
  PASSWORDS,
  startAccountsServer,
  startPolicyGateway,
  startWorker,
} from "./accounts.js";
import type { Role, RunningWorker } from "./accounts.js";

let nats: NatsServerHandle;
let upstream: FakeOpenAIServer;
let worker: RunningWorker;
let gateway: Awaited<ReturnType<typeof startPolicyGateway>>;
const connections = new Map<Role, { nc: NatsConnection; violations: string[] }>();

beforeAll(async () => {
  nats = await startAccountsServer();
  upstream = await startFakeOpenAIServer({ apiKey: TEST_API_KEY });
  gateway = await startPolicyGateway(nats);
  worker = await startWorker(nats, accountsServiceConfig(nats.url, upstream.baseUrl));
  for (const role of [
    "worker",
    "bootstrap",
    "configAdmin",
    "query",
    "memory",
    "ingest",
    "ingestBatch",
    "analytics",
    "ops",
  ] as const)
    connections.set(role, await connectAs(nats, role));
});

afterAll(async () => {
  for (const { nc } of connections.values()) await nc.close();
  await worker?.app.stop(1_000);
  await gateway?.close();
  await upstream?.close();
  await nats?.stop();
});

const as = (role: Role) => connections.get(role)!;

/** Publishes as `role` and waits for the server's permission error naming the subject. */
async function expectPublishDenied(role: Role, subject: string): Promise<void> {
  const { nc, violations } = as(role);
  nc.publish(subject, "{}");
  await nc.flush();
  await until(`${role} refused publishing ${subject}`, () =>
    violations.some((text) => text.includes(`Publish to "${subject}"`)),
  );
}

/** Subscribes as `role` and waits until the server refused (and so ended) the subscription. */
async function expectSubscribeDenied(role: Role, subject: string, queue?: string): Promise<void> {
  const { nc, violations } = as(role);
  const sub = nc.subscribe(subject, queue ? { queue } : {});
  await nc.flush();
  await until(`${role} refused subscribing ${subject}`, () =>
    violations.some((text) => text.includes(`Subscription to "${subject}"`)),
  );
  await sub.closed.catch(() => undefined);
  expect(sub.isClosed()).toBe(true);
}

/** A JetStream API request as `role`; resolves with how it ended. */
async function jsApi(
  role: Role,
  api: string,
  body: unknown = {},
): Promise<"answered" | "denied" | "no responders"> {
  try {
    await as(role).nc.request(`$JS.API.${api}`, JSON.stringify(body), { timeout: 2_000 });
    return "answered";
  } catch (error) {
    const text = describeError(error);
    if (/permission/i.test(text)) return "denied";
    if (/no responders/i.test(text)) return "no responders";
    throw error;
  }
}

describe("the shipped nats-server.conf", () => {
  it("is a valid server configuration", async () => {
    const conf = fileURLToPath(new URL("../../nats-server.conf", import.meta.url));
    const check = spawnSync(await resolveNatsServerBinary(), ["-c", conf, "-t"], {
      env: { ...process.env, ...PASSWORDS },
      encoding: "utf8",
    });
    expect(check.stdout + check.stderr).toContain("is valid");
  });
});

describe("what each role may do", () => {
  it("every calling context uses every subject through its imports; the worker is refused nothing", async () => {
    const { nc: plain } = await connectAs(nats, "ingestBatch", { inboxPrefix: undefined });
    try {
      const clients = [
        createLlmProviderClient(as("query").nc),
        createLlmProviderClient(as("memory").nc),
        createLlmProviderClient(as("ingest").nc), // the connection's own inbox prefix
        createLlmProviderClient(plain, { inboxPrefix: "_INBOX_ingest_batch" }), // the client's option
      ];
      for (const [index, client] of clients.entries()) {
        const chat = await client.completeChat({
          model: "model-0",
          messages: [{ role: "user", content: "Hi" }],
        });
        expect(chat.content).toBe("echo: Hi");
        const streamed = await collectStream(
          client.streamChat({ model: "model-0", messages: [{ role: "user", content: "a b c d e f g h" }] }),
        );
        expect(streamed.error).toBeUndefined();
        expect(streamed.text).toBe("echo: a b c d e f g h");
        expect(streamed.chunks.length).toBeGreaterThan(2); // many messages through one import
        const embedded = await client.generateEmbedding({ model: "embedder", input: [`x${index}`, "y"] });
        expect(embedded.data).toHaveLength(2);
        const again = await client.generateEmbedding({ model: "embedder", input: [`x${index}`] });
        expect(again.data[0]!.cached).toBe(true); // the worker wrote and read its cache
        expect((await client.listModels()).data.length).toBeGreaterThan(0);
        expect(await client.getProviderHealth()).toHaveProperty("providers");
      }
    } finally {
      await plain.close();
    }
    for (const role of ["query", "memory", "ingest", "worker"] as const)
      expect(as(role).violations).toEqual([]);
    // The worker itself was refused nothing (stream info, direct gets, the breaker subscription…).
    expect(worker.logs.join("")).not.toMatch(/permission|not read from the bucket/i);
  });

  it("the worker takes over a breaker state another worker writes", async () => {
    const breakers = await new Kvm(as("worker").nc).open("llm_provider_breakers");
    await breakers.put(
      toKvToken(breakerKey("p0", "upstream-model-0")),
      JSON.stringify({ state: "open", opened_at: Date.now(), by: "peer" }),
    );
    await until("breaker opened", () => !worker.app.isModelAvailable("model-0"));
    await breakers.put(
      toKvToken(breakerKey("p0", "upstream-model-0")),
      JSON.stringify({ state: "closed", opened_at: 0, by: "peer" }),
    );
    await until("breaker closed", () => worker.app.isModelAvailable("model-0"));
    expect(worker.logs.join("")).not.toMatch(/permission/i);
  });

  it("the worker holds no JetStream administration rights", async () => {
    const jsm = await jetstreamManager(as("worker").nc, { checkAPI: false });
    const refusals = await Promise.all(
      [
        () => jsm.streams.purge(EVENT_STREAM),
        () => jsm.streams.delete(EVENT_STREAM),
        () => jsm.streams.update(EVENT_STREAM, { max_age: 1 }),
        () => jsm.streams.add({ name: "ROGUE", subjects: ["rogue.>"] }),
        () => jsm.streams.purge("KV_llm_provider_embeddings"),
        () => jsm.streams.delete("KV_llm_provider_breakers"),
        () =>
          jsm.consumers.add(EVENT_STREAM, {
            durable_name: "rogue",
            deliver_subject: "$KV.llm_provider_breakers.x",
          }),
        () => jsm.consumers.delete(EVENT_STREAM, "analytics"),
      ].map((attempt) =>
        attempt().then(
          () => "done",
          (error: unknown) => String(error),
        ),
      ),
    );
    for (const refusal of refusals) expect(refusal).toMatch(/permission/i);
    expect(await jsApi("worker", `STREAM.INFO.${EVENT_STREAM}`)).toBe("answered");
  });

  it("the bootstrap administers JetStream but serves and publishes nothing else", async () => {
    expect(await jsApi("bootstrap", `STREAM.INFO.${EVENT_STREAM}`)).toBe("answered");
    await expectSubscribeDenied("bootstrap", "llm-provider.ctx.memory.cmd.complete_chat", "llm-provider");
    await expectPublishDenied("bootstrap", SUBJECTS.chatCompletedEvent);
    await expectPublishDenied("bootstrap", "$KV.llm_provider_breakers.x");
  });

  it("a caller may send requests only: no serving, no events, no JetStream, no discovery", async () => {
    for (const role of ["query", "memory"] as const) {
      await expectSubscribeDenied(role, "llm-provider.cmd.complete_chat", "llm-provider");
      await expectSubscribeDenied(role, "llm-provider.ctx.*.cmd.>", "llm-provider");
      await expectPublishDenied(role, SUBJECTS.chatCompletedEvent);
      await expectPublishDenied(role, "$KV.llm_provider_breakers.x");
      await expectSubscribeDenied(role, "$KV.llm_provider_embeddings.>");
      expect(await jsApi(role, `STREAM.PURGE.${EVENT_STREAM}`)).toBe("denied");
      expect(await jsApi(role, "DIRECT.GET.KV_llm_provider_embeddings")).toBe("denied");
      await expectPublishDenied(role, "$SRV.PING.llm-provider");
    }
  });

  it("callers sharing an account read their own inbox only", async () => {
    await expectSubscribeDenied("ingest", "_INBOX_ingest_batch.>");
    await expectSubscribeDenied("ingest", "_INBOX.>");
    await expectSubscribeDenied("ingest", "_R_.>");
    await expectSubscribeDenied("ingestBatch", "_INBOX_ingest.>");
  });

  it("the event reader pulls and acknowledges its consumer, and receives live events, but changes nothing", async () => {
    const js = jetstream(as("analytics").nc, { apiPrefix: EVENTS_API_PREFIX });
    const consumer = await js.consumers.get(EVENT_STREAM, "analytics");
    const messages = await consumer.fetch({ max_messages: 5, expires: 2_000 });
    let read = 0;
    for await (const message of messages) {
      expect(message.subject).toMatch(/^llm-provider\.[a-z_]+\.v1$/);
      expect(await message.ackAck()).toBe(true);
      read++;
    }
    expect(read).toBeGreaterThan(0); // the first test's requests made events
    const admin = await jetstreamManager(as("bootstrap").nc);
    const info = await admin.consumers.info(EVENT_STREAM, "analytics");
    expect(info.num_ack_pending).toBe(0);
    expect(info.delivered.consumer_seq).toBe(read);

    const live = as("analytics").nc.subscribe("llm-provider.*.v1", { max: 1 });
    await as("analytics").nc.flush();
    await createLlmProviderClient(as("query").nc).completeChat({
      model: "model-0",
      messages: [{ role: "user", content: "live" }],
    });
    for await (const event of live) expect(event.json<{ caller: string }>().caller).toBe("query");

    await expectPublishDenied("analytics", SUBJECTS.chatCompletedEvent);
    expect(await jsApi("analytics", `STREAM.PURGE.${EVENT_STREAM}`)).toBe("denied");
    expect(await jsApi("analytics", `CONSUMER.CREATE.${EVENT_STREAM}`)).toBe("denied");
    await expectPublishDenied("analytics", "llm-provider.cmd.complete_chat");
  });

  it("only the config admin (directly or through the admin subjects) writes the live configuration; callers neither read nor write it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "live-config-permissions-"));
    try {
      const file = join(dir, "config.yaml");
      await writeFile(file, toYaml(accountsServiceConfig(nats.url, upstream.baseUrl)));
      const applied = await applyConfigFile(as("configAdmin").nc, { file, write: true });
      expect(applied.revision).toBeGreaterThan(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const asWorker = await new Kvm(jetstream(as("worker").nc, { checkAPI: false })).open(
      "llm_provider_config",
    );
    expect((await asWorker.get("config"))?.json<{ models: unknown[] }>().models.length).toBeGreaterThan(0);
    // The worker writes that one key only when serving an admin request (test/security/config-admin.test.ts).
    await expectPublishDenied("worker", "$KV.llm_provider_config.other");
    await expectPublishDenied("query", "$KV.llm_provider_config.config");
    expect(await jsApi("query", "DIRECT.GET.KV_llm_provider_config")).toBe("denied");
    // The admin changes that one key and bucket only.
    await expectPublishDenied("configAdmin", "$KV.llm_provider_breakers.x");
    expect(await jsApi("configAdmin", "STREAM.DELETE.KV_llm_provider_config")).toBe("denied");
    await expectSubscribeDenied("configAdmin", "llm-provider.ctx.memory.cmd.complete_chat", "llm-provider");
  });

  it("operators read discovery ($SRV) and nothing else", async () => {
    const replies = await as("ops").nc.requestMany("$SRV.PING.llm-provider", "", { maxWait: 1_000 });
    const pongs: string[] = [];
    for await (const reply of replies) pongs.push(reply.json<{ name: string }>().name);
    expect(pongs).toEqual(["llm-provider"]);
    const stats = await as("ops").nc.request("$SRV.STATS.llm-provider", "", { timeout: 2_000 });
    expect(stats.json<{ endpoints: { subject: string }[] }>().endpoints.map((e) => e.subject)).toContain(
      "llm-provider.ctx.*.cmd.complete_chat",
    );
    await expectPublishDenied("ops", "llm-provider.cmd.complete_chat");
    expect(await jsApi("ops", `STREAM.INFO.${EVENT_STREAM}`)).toBe("denied");
  });
});
