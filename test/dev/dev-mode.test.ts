import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { createLlmProviderClient } from "@llm-provider/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { REPO_ROOT } from "../support/built-service.js";
import { until } from "../support/until.js";

/**
 * `bash scripts/dev.sh` as a newcomer runs it, with no account: it builds and starts the service
 * against the echo upstream, says when it answers, and every subject answers; `--clean` removes
 * the state it left on the server.
 */
let nats: NatsServerHandle;
let dev: ChildProcess;
let output = "";
let nc: NatsConnection;

/** The environment of a machine with no keys and no overrides, on the test's NATS server. */
function devEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(OPENAI_API_KEY|ANTHROPIC_API_KEY|LLM_PROVIDER_.*|OTEL_.*)$/.test(key)) env[key] = value;
  }
  return { ...env, NATS_URL: nats.url, LLM_PROVIDER_DEV_ECHO: "1" };
}

beforeAll(async () => {
  nats = await startNatsServer();
  dev = spawn("bash", ["scripts/dev.sh"], { cwd: REPO_ROOT, env: devEnvironment(), stdio: "pipe" });
  dev.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  dev.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  await until("dev mode says it is ready", () => output.includes("llm-provider is READY"), 120_000).catch(
    (error: unknown) => {
      throw new Error(`${(error as Error).message}\n${output}`);
    },
  );
  nc = await connect({ servers: nats.url });
}, 150_000);

afterAll(async () => {
  await nc?.close();
  if (dev && dev.exitCode === null) {
    dev.kill("SIGINT");
    await until("dev mode exits", () => dev.exitCode !== null, 30_000);
  }
  await nats?.stop();
});

describe("dev mode", () => {
  it("says where it runs, what to try with the project's CLI and how to remove its state", () => {
    const ready = output.slice(output.indexOf("llm-provider is READY"));
    expect(ready).toContain(`READY on ${nats.url}; models that answer now: llama3.2, nomic-embed-text`);
    expect(ready).toContain('npm run -s cli -- chat --model llama3.2 "Hello there"');
    expect(ready).toContain('npm run -s cli -- embed --model nomic-embed-text "Hello there"');
    expect(ready).toContain("npm run -s cli -- models");
    expect(ready).toContain("stream LLM_PROVIDER_EVENTS");
    expect(ready).toContain("bash scripts/dev.sh --clean");
    expect(output).not.toContain("nats req");
  });

  it("serves chat, streamed chat, embeddings, models and health with no account", async () => {
    const client = createLlmProviderClient(nc, { timeouts: { chat: 30_000, query: 5_000 } });
    const ask = { model: "llama3.2", messages: [{ role: "user" as const, content: "Hello there" }] };
    expect((await client.completeChat(ask)).content).toBe("echo: Hello there");
    const stream = client.streamChat(ask);
    let chunks = 0;
    for await (const _chunk of stream) chunks++;
    expect(chunks).toBeGreaterThan(1);
    expect((await stream.done).content).toBe("echo: Hello there");
    const embedding = await client.generateEmbedding({ model: "nomic-embed-text", input: "Hello there" });
    expect(embedding.data[0]!.embedding).toHaveLength(8);
    const models = await client.listModels();
    expect(models.data.map((model) => model.id)).toContain("nomic-embed-text");
    const health = await client.getProviderHealth({ provider_id: "local" });
    expect(health).toMatchObject({ provider_id: "local" });
  });

  it("answers the commands it suggests, run as printed", () => {
    const cli = (...args: string[]) =>
      spawnSync("npm", ["run", "-s", "cli", "--", ...args], {
        cwd: REPO_ROOT,
        env: devEnvironment(),
        encoding: "utf8",
        timeout: 60_000,
      });
    const chat = cli("chat", "--model", "llama3.2", "Hello there");
    expect(chat.status, chat.stderr).toBe(0);
    expect(chat.stdout).toContain("echo: Hello there");
    const embed = cli("embed", "--model", "nomic-embed-text", "Hello there");
    expect(embed.status, embed.stderr).toBe(0);
    expect(embed.stdout).toContain("nomic-embed-text");
    const models = cli("models");
    expect(models.status, models.stderr).toBe(0);
    expect(models.stdout).toMatch(/llama3\.2/);
    const health = cli("health");
    expect(health.status, health.stderr).toBe(0);
    expect(health.stdout).toContain("local");
  });

  it("stops on Ctrl-C, and --clean then removes the stream and buckets it used", async () => {
    dev.kill("SIGINT");
    await until("dev mode exits", () => dev.exitCode !== null, 30_000);
    expect(dev.exitCode).toBe(0);
    const clean = spawnSync("bash", ["scripts/dev.sh", "--clean"], {
      cwd: REPO_ROOT,
      env: devEnvironment(),
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(clean.status).toBe(0);
    expect(clean.stdout).toContain("removed: LLM_PROVIDER_EVENTS");
    expect(clean.stdout).toContain("removed: KV_llm_provider_embeddings");
    const jsm = await jetstreamManager(nc);
    const left: string[] = [];
    for await (const name of jsm.streams.names()) left.push(name);
    expect(left).toEqual([]);
  });
});
