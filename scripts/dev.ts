/**
 * Development launcher: finds or starts what the service needs, builds it, runs it, and says when
 * it answers. `bash scripts/dev.sh [--clean]`.
 * - NATS: `NATS_URL`, else a server on 127.0.0.1:4222, else a local `nats-server` with JetStream
 *   storing in `.data/nats` (stopped again when this exits);
 * - upstreams: OpenAI when `OPENAI_API_KEY` is set; a local Ollama on 127.0.0.1:11434 when one
 *   runs; otherwise the echo upstream of the test suite (`test/fakes/openai-server.ts`), announced
 *   loudly, so that chat, streaming and embeddings can be tried end to end with no account
 *   (`LLM_PROVIDER_DEV_ECHO=1` chooses the echo upstream whatever else is there);
 * - logs: pretty in a terminal, JSON otherwise;
 * - `--clean`: removes the streams, KV buckets and Object Store the development config uses from that
 *   NATS server, then exits.
 */
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { connect as connectTcp } from "node:net";
import { fileURLToPath } from "node:url";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { createLlmProviderClient } from "@llm-provider/contracts";
import PinoPretty from "pino-pretty";
import { loadConfig } from "../services/llm-provider/src/config/load-config.js";
import {
  kvBucketSpecs,
  repliesBucketSpec,
} from "../services/llm-provider/src/infra/jetstream/jetstream-state.js";
import { startFakeOpenAIServer } from "../test/fakes/openai-server.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const CONFIG_FILE = "config/development.yaml";
/** How long the service may take from its start to its first answer before the launcher gives up. */
const READY_WITHIN_MS = 60_000;
const ECHO_EMBEDDING_DIMENSIONS = 8;
const say = (text: string) => process.stdout.write(`\n[dev] ${text}\n`);

function isListening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp({ host, port });
    socket.setTimeout(500);
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
    socket.once("error", () => resolve(false));
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await isListening("127.0.0.1", port)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

const children: ChildProcess[] = [];
const env: NodeJS.ProcessEnv = { ...process.env };
const clean = process.argv.includes("--clean");

// --- NATS -------------------------------------------------------------------------------------
if (env.NATS_URL) {
  say(`using NATS at ${env.NATS_URL} (NATS_URL)`);
} else if (await isListening("127.0.0.1", 4222)) {
  say("using the NATS server already running on 127.0.0.1:4222");
  env.NATS_URL = "nats://127.0.0.1:4222";
} else if (clean) {
  say("no NATS server on 127.0.0.1:4222 (or NATS_URL): nothing to clean");
  process.exit(0);
} else {
  const storeDir = `${root}.data/nats`;
  mkdirSync(storeDir, { recursive: true });
  const bin = env.NATS_SERVER_BIN ?? "nats-server";
  say(`no NATS reachable: starting ${bin} with JetStream on 127.0.0.1:4222, data in .data/nats`);
  const nats = spawn(bin, ["-a", "127.0.0.1", "-p", "4222", "-js", "-sd", storeDir], { stdio: "ignore" });
  children.push(nats);
  await waitForPort(4222, 10_000);
  env.NATS_URL = "nats://127.0.0.1:4222";
}
const natsUrl = env.NATS_URL;
const config = loadConfig(`${root}${CONFIG_FILE}`, env);
const stateNames = {
  stream: [
    ...(config.events.enabled ? [config.events.stream] : []),
    ...(config.jobs.enabled ? [config.jobs.items_stream, config.jobs.results_stream] : []),
    ...(config.resumable_streams.enabled ? [config.resumable_streams.stream] : []),
  ],
  buckets: kvBucketSpecs(config).map((spec) => spec.bucket),
  objectStores: config.idempotency.enabled ? [repliesBucketSpec(config.idempotency).bucket] : [],
};

if (clean) {
  const nc = await connect({ servers: natsUrl });
  const jsm = await jetstreamManager(nc);
  const streams = [
    ...stateNames.stream,
    ...stateNames.buckets.map((bucket) => `KV_${bucket}`),
    ...stateNames.objectStores.map((bucket) => `OBJ_${bucket}`),
  ];
  for (const stream of streams) {
    const removed = await jsm.streams.delete(stream).catch(() => false);
    say(`${removed ? "removed" : "not there"}: ${stream}`);
  }
  await nc.close();
  process.exit(0);
}

// --- upstreams --------------------------------------------------------------------------------
let echo: Awaited<ReturnType<typeof startFakeOpenAIServer>> | undefined;
let chatModel = "llama3.2";
let embeddingModel = "nomic-embed-text";
const echoForced = env.LLM_PROVIDER_DEV_ECHO === "1";
if (env.OPENAI_API_KEY && !echoForced) {
  say("OPENAI_API_KEY is set: gpt-4o-mini and text-embedding-3-small go to OpenAI");
  chatModel = "gpt-4o-mini";
  embeddingModel = "text-embedding-3-small";
} else if (!echoForced && (await isListening("127.0.0.1", 11434))) {
  say(
    "a local server answers on 127.0.0.1:11434 (Ollama?): llama3.2 and nomic-embed-text go there " +
      "(ollama pull llama3.2 nomic-embed-text, if not done yet)",
  );
} else {
  echo = await startFakeOpenAIServer();
  const local = config.providers.findIndex((provider) => provider.id === "local");
  const embedder = config.models.findIndex((model) => model.model_name === embeddingModel);
  env[`LLM_PROVIDER__PROVIDERS__${local}__ENDPOINT`] = echo.baseUrl;
  // The echo upstream's vectors are as long as it is asked for, else 8 long.
  env[`LLM_PROVIDER__MODELS__${embedder}__DIMENSIONS`] = String(ECHO_EMBEDDING_DIMENSIONS);
  say(
    `no OPENAI_API_KEY and nothing on 127.0.0.1:11434: provider 'local' points at the ECHO upstream ` +
      `of the test suite (${echo.baseUrl}). It repeats your last message; its vectors are ` +
      `${ECHO_EMBEDDING_DIMENSIONS} long.`,
  );
}

// --- the service, from its build ---------------------------------------------------------------
say("building the service (npm run build)");
const build = spawnSync("npm", ["run", "build", "--silent"], { cwd: root, stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);

const pretty = process.stdout.isTTY;
const service = spawn(process.execPath, ["services/llm-provider/dist/main.js", "--config", CONFIG_FILE], {
  cwd: root,
  env,
  stdio: ["ignore", pretty ? "pipe" : "inherit", "inherit"],
});
if (pretty) {
  // The configuration dump at start is for log collectors; the terminal gets the messages.
  service.stdout!.pipe(
    PinoPretty({
      colorize: true,
      singleLine: true,
      ignore: "pid,hostname,service,config",
      translateTime: "HH:MM:ss",
    }),
  );
}

let stopping = false;
async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    for (const child of children) child.kill("SIGTERM");
    await echo?.close();
  }
  process.exit(code);
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (service.exitCode === null) service.kill(signal);
  });
}
service.on("exit", (code) => void stopAll(code ?? 0));

await announceWhenReady();

/** Asks the service for its models until it answers, then prints how to use it. */
async function announceWhenReady(): Promise<void> {
  const nc = await connect({ servers: natsUrl });
  const client = createLlmProviderClient(nc, { timeouts: { query: 1_000 } });
  const until = Date.now() + READY_WITHIN_MS;
  for (;;) {
    if (stopping) return;
    try {
      const models = await client.listModels();
      const available = models.data.filter((model) => model.is_available).map((model) => model.id);
      await nc.close();
      say(
        `llm-provider is READY on ${natsUrl}; models that answer now: ${available.join(", ")}\n\n` +
          `  Try, in another terminal:\n` +
          `    npm run -s cli -- chat --model ${chatModel} "Hello there"\n` +
          `    npm run -s cli -- embed --model ${embeddingModel} "Hello there"\n` +
          `    npm run -s cli -- models\n\n` +
          `  State on that server: stream ${stateNames.stream.join(", ") || "(events off)"}, ` +
          `KV buckets ${stateNames.buckets.join(", ")}` +
          `${stateNames.objectStores.length > 0 ? `, Object Store ${stateNames.objectStores.join(", ")}` : ""}.\n` +
          `  Remove them with: bash scripts/dev.sh --clean\n`,
      );
      return;
    } catch {
      if (Date.now() > until) {
        say(`the service did not answer within ${READY_WITHIN_MS / 1000} s; see its log above`);
        await nc.close();
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
