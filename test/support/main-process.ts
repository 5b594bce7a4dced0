// The service's real entry point (`main.ts`) run as a process, as an operator would run it.
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { stringify as toYaml } from "yaml";
import { SERVICE_NAME } from "@llm-provider/contracts";
import { builtServiceArgs } from "./built-service.js";
import { until } from "./until.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
/**
 * A process a test forgot to stop is killed after this long: longer than the longest test timeout
 * (120 s), or a slow cluster test's own worker would be killed under it.
 */
const KILL_AFTER_MS = 180_000;

export function runMain(configPath: string, env: NodeJS.ProcessEnv = {}, extraArgs: string[] = []) {
  const child = spawn(process.execPath, builtServiceArgs("main", ["--config", configPath, ...extraArgs]), {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const kill = setTimeout(() => child.kill("SIGKILL"), KILL_AFTER_MS);
  void exited.then(() => clearTimeout(kill));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

/** Waits (up to 10 s) until a worker answers `$SRV.PING`; throws with the process's stderr if none does. */
export async function waitUntilServing(nc: NatsConnection, proc: ReturnType<typeof runMain>): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const pong = await nc.request(`$SRV.PING.${SERVICE_NAME}`, "", { timeout: 200 }).catch(() => undefined);
    if (pong) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`service did not start: ${proc.output().stderr}`);
}

/**
 * A request lost with its worker: a worker process runs `config` (written to `configPath`),
 * `stepAside` stops the test's in-process service so the process gets the request `send` sends,
 * and once `reachedUpstream()` says it is with the provider the process is SIGKILLed. Returns
 * what the lost request ended with (its error, usually).
 */
export async function sigkillWorkerMidRequest(options: {
  natsUrl: string;
  configPath: string;
  config: object;
  env: NodeJS.ProcessEnv;
  stepAside: () => Promise<void>;
  send: (nc: NatsConnection) => Promise<unknown>;
  reachedUpstream: () => boolean;
}): Promise<unknown> {
  await writeFile(options.configPath, toYaml(options.config));
  const worker = runMain(options.configPath, options.env);
  await options.stepAside();
  const nc = await connect({ servers: options.natsUrl });
  try {
    await waitUntilServing(nc, worker);
    const lost = options.send(nc).catch((error: unknown) => error);
    await until("the request upstream", options.reachedUpstream);
    worker.child.kill("SIGKILL");
    await worker.exited;
    return await lost;
  } finally {
    worker.child.kill("SIGKILL");
    await nc.close();
  }
}
