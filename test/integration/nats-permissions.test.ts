import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { createLlmProviderClient } from "@llm-provider/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp } from "../../services/llm-provider/src/app.js";
import type { App } from "../../services/llm-provider/src/app.js";
import { parseConfig } from "../../services/llm-provider/src/config/load-config.js";
import { createLogger } from "../../services/llm-provider/src/infra/logger.js";
import { toKvToken } from "../../services/llm-provider/src/infra/kv-token.js";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { resolveNatsServerBinary, startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { collectStream } from "../support/streams.js";
import { testConfig, TEST_API_KEY } from "../support/service.js";

// The accounts and permissions shipped in nats-server.conf, on a real server.
const accounts = fileURLToPath(new URL("../../deploy/nats/accounts.conf", import.meta.url));
const passwords = {
  LLM_PROVIDER_NATS_PASSWORD: "service-secret",
  LLM_CALLER_NATS_PASSWORD: "caller-secret",
  LLM_EVENTS_NATS_PASSWORD: "events-secret",
};

let nats: NatsServerHandle;
let upstream: FakeOpenAIServer;
let app: App;
let caller: NatsConnection;
const violations: string[] = [];
/** What the service logged (warnings and up): its own permission violations show up here. */
const serviceLog: string[] = [];

beforeAll(async () => {
  Object.assign(process.env, passwords); // the server reads them from its environment
  // nats-server 2.9 resolves `include` relative to the including file only: inline the text.
  nats = await startNatsServer({ extraConfig: readFileSync(accounts, "utf8") });
  upstream = await startFakeOpenAIServer({ apiKey: TEST_API_KEY });
  const config = testConfig(nats.url, [upstream.baseUrl]);
  config.nats = { servers: nats.url, user: "llm-provider", password_ref: "env:LLM_PROVIDER_NATS_PASSWORD" };
  config.models.push({
    model_name: "embedder",
    provider_id: "p0",
    context_window: 8_191,
    max_tokens: 8_191,
    dimensions: 8,
    features: { chat: false, embedding: true, function_calling: false, streaming: false },
  });
  const sink = new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      serviceLog.push(chunk.toString());
      done();
    },
  });
  app = await startApp({
    config: parseConfig(config, "test"),
    env: { ...passwords, TEST_OPENAI_KEY: TEST_API_KEY },
    logger: createLogger("warn", sink),
  });
  caller = await connect({ servers: nats.url, user: "caller", pass: passwords.LLM_CALLER_NATS_PASSWORD });
  void (async () => {
    for await (const status of caller.status())
      if (status.type === "error") violations.push(String(status.error));
  })();
});

afterAll(async () => {
  await caller?.close();
  await app?.stop(1_000);
  await upstream?.close();
  await nats?.stop();
});

describe("the shipped nats-server.conf", () => {
  it("is a valid server configuration", async () => {
    const conf = fileURLToPath(new URL("../../nats-server.conf", import.meta.url));
    const check = spawnSync(await resolveNatsServerBinary(), ["-c", conf, "-t"], {
      env: { ...process.env, ...passwords },
      encoding: "utf8",
    });
    expect(check.stdout + check.stderr).toContain("is valid");
  });
});

describe("the shipped NATS permissions", () => {
  it("let the service run everything under its own user, and a caller use every request subject", async () => {
    const client = createLlmProviderClient(caller);
    const chat = await client.completeChat({
      model: "model-0",
      messages: [{ role: "user", content: "Hello" }],
    });
    expect(chat.content).toBe("echo: Hello");
    const streamed = await collectStream(
      client.streamChat({ model: "model-0", messages: [{ role: "user", content: "a b" }] }),
    );
    expect(streamed.error).toBeUndefined();
    expect(streamed.text).toBe("echo: a b");
    const embedded = await client.generateEmbedding({ model: "embedder", input: ["x", "y"] });
    expect(embedded.data).toHaveLength(2);
    const again = await client.generateEmbedding({ model: "embedder", input: ["x"] });
    expect(again.data[0]!.cached).toBe(true); // the service could write and read its cache
    expect((await client.listModels()).data.length).toBeGreaterThan(0);
    expect(await client.getProviderHealth()).toHaveProperty("providers");
    expect(violations).toEqual([]);
    // The service itself was refused nothing: e.g. listing the health and breaker buckets (stream
    // info with a subjects filter), direct gets, the subscription to the breakers bucket's writes.
    expect(serviceLog.join("")).not.toMatch(/permission|not read from the bucket/i);
  });

  it("let the service take over a breaker state another worker writes", async () => {
    const peer = await connect({
      servers: nats.url,
      user: "llm-provider",
      pass: passwords.LLM_PROVIDER_NATS_PASSWORD,
    });
    try {
      const breakers = await new Kvm(peer).open("llm_provider_breakers");
      await breakers.put(
        toKvToken("p0"),
        JSON.stringify({ state: "open", opened_at: Date.now(), by: "peer" }),
      );
      for (let waited = 0; waited < 5_000 && app.isProviderAvailable("p0"); waited += 20)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(app.isProviderAvailable("p0")).toBe(false);
      await breakers.put(toKvToken("p0"), JSON.stringify({ state: "closed", opened_at: 0, by: "peer" }));
      for (let waited = 0; waited < 5_000 && !app.isProviderAvailable("p0"); waited += 20)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(app.isProviderAvailable("p0")).toBe(true);
    } finally {
      await peer.close();
    }
    expect(serviceLog.join("")).not.toMatch(/permission/i);
  });

  it("refuse a caller who publishes a fake event or reads the cache", async () => {
    caller.publish("llm-provider.chat_completed.v1", JSON.stringify({ id: "fake" }));
    await caller.flush();
    const sub = caller.subscribe("$KV.llm_provider_embeddings.>");
    const subscriptionEnded = sub.closed.then(
      () => "closed",
      (error: unknown) => String(error),
    );
    const directGet = await caller
      .request("$JS.API.DIRECT.GET.KV_llm_provider_embeddings", "{}", { timeout: 1_000 })
      .then(
        () => "answered",
        (error: unknown) => String(error),
      );
    expect(directGet).not.toBe("answered");
    expect(await subscriptionEnded).toBe("closed"); // the server refused it and ended it
    await new Promise((resolve) => setTimeout(resolve, 200));
    const text = violations.join("\n");
    expect(text).toMatch(/publish.*llm-provider\.chat_completed\.v1/i);
    expect(text).toMatch(/\$JS\.API\.DIRECT\.GET\.KV_llm_provider_embeddings/);
    expect(text).toMatch(/subscription.*\$KV\.llm_provider_embeddings/i);
  });
});
