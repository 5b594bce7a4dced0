// The service's real entry point (`main.ts`) run as a process, as an operator would run it.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { NatsConnection } from "@nats-io/nats-core";
import { SERVICE_NAME } from "@llm-provider/contracts";
import { builtServiceArgs } from "./built-service.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
/** A process a test forgot to stop is killed after this long. */
const KILL_AFTER_MS = 60_000;

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
