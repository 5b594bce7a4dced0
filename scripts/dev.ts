/**
 * Development launcher. Finds or starts what the service needs, then runs it from source:
 * - NATS: `NATS_URL`, else a server on 127.0.0.1:4222, else a local `nats-server` with
 *   JetStream storing in `.data/nats` (stopped again when this exits);
 * - an upstream: OpenAI when `OPENAI_API_KEY` is set; a local OpenAI-compatible server
 *   (e.g. Ollama) on 127.0.0.1:11434 when one runs; otherwise the echo upstream of the test suite
 *   (`test/fakes/openai-server.ts`), announced loudly, so that requests can be tried end to end.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { connect as connectTcp } from "node:net";
import { fileURLToPath } from "node:url";
import { startFakeOpenAIServer } from "../test/fakes/openai-server.js";

const root = fileURLToPath(new URL("..", import.meta.url));
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

if (env.NATS_URL) {
  say(`using NATS at ${env.NATS_URL} (NATS_URL)`);
} else if (await isListening("127.0.0.1", 4222)) {
  say("using the NATS server already running on 127.0.0.1:4222");
  env.NATS_URL = "nats://127.0.0.1:4222";
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

let echo: Awaited<ReturnType<typeof startFakeOpenAIServer>> | undefined;
if (env.OPENAI_API_KEY) {
  say("OPENAI_API_KEY is set: model gpt-4o-mini goes to OpenAI");
} else if (await isListening("127.0.0.1", 11434)) {
  say("a local server answers on 127.0.0.1:11434 (Ollama?): model llama3.2 goes there");
} else {
  echo = await startFakeOpenAIServer();
  env.LLM_PROVIDER__PROVIDERS__1__ENDPOINT = echo.baseUrl;
  say(
    `no OPENAI_API_KEY and nothing on 127.0.0.1:11434: provider 'local' now points at the ECHO upstream ` +
      `of the test suite (${echo.baseUrl}); it repeats your last message. Ask model "llama3.2".`,
  );
}

const service = spawn(
  process.execPath,
  [
    "--import",
    "tsx",
    "--conditions=source",
    "services/llm-provider/src/main.ts",
    "--config",
    "config/development.yaml",
  ],
  { cwd: root, env, stdio: "inherit" },
);
say(
  `service starting. Try:\n  nats req llm-provider.qry.list_models ''\n` +
    `  nats req --timeout 30s llm-provider.cmd.complete_chat '{"model":"llama3.2","messages":[{"role":"user","content":"Hello"}]}'`,
);

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
