// Child processes of the benchmark: Node processes with piped, continuously drained output (the
// tail is kept for error messages), and never left behind: SIGKILLed when the bench exits.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

const OUTPUT_TAIL_CHARS = 4_000;
const DEFAULT_STOP_GRACE_MS = 5_000;

const runningChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

/** A crash or a forced exit of the bench must not leave a child running ("exit" handlers are sync). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of runningChildren) child.kill("SIGKILL");
  });
}

export interface ChildHandle {
  readonly name: string;
  readonly pid: number;
  /** The first line written to stdout; the bench's own children announce readiness that way. */
  readonly firstLine: Promise<string>;
  hasExited(): boolean;
  /** Last few KB of stdout and stderr, for error messages. */
  outputTail(): string;
  /** Last few KB of stderr alone (where Node writes its warnings). */
  stderrTail(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnNodeOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Runs `node <args>`. stdin stays an open pipe: the bench's own children exit when it closes,
 * which covers the bench being killed with SIGKILL.
 */
export function spawnNode(name: string, args: readonly string[], options: SpawnNodeOptions): ChildHandle {
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  runningChildren.add(child);
  installExitHook();

  let tail = "";
  let stderrTail = "";
  const keepTail = (chunk: string): void => {
    tail = (tail + chunk).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    keepTail(chunk);
    stderrTail = (stderrTail + chunk).slice(-OUTPUT_TAIL_CHARS);
  });

  const exited = new Promise<void>((resolve) => {
    const done = (): void => {
      runningChildren.delete(child);
      resolve();
    };
    child.once("exit", done);
    child.once("error", (error) => {
      keepTail(`\n[spawn error] ${error.message}`);
      done();
    });
  });

  const firstLine = new Promise<string>((resolve, reject) => {
    let pending: string | undefined = "";
    child.stdout.on("data", (chunk: string) => {
      keepTail(chunk);
      if (pending === undefined) return; // the first line was already delivered
      pending += chunk;
      const newline = pending.indexOf("\n");
      if (newline < 0) return;
      resolve(pending.slice(0, newline));
      pending = undefined;
    });
    void exited.then(() =>
      reject(new Error(`${name} exited (${describeExit(child)}) before it was ready. Output:\n${tail}`)),
    );
  });
  // Callers that never ask for the line (the service) must not see an unhandled rejection.
  firstLine.catch(() => undefined);

  const hasExited = (): boolean => child.exitCode !== null || child.signalCode !== null;

  return {
    name,
    pid: child.pid ?? -1,
    firstLine,
    hasExited,
    outputTail: () => tail,
    stderrTail: () => stderrTail,
    async stop(graceMs = DEFAULT_STOP_GRACE_MS) {
      if (hasExited() || child.pid === undefined) return exited;
      child.kill("SIGTERM");
      const grace = new AbortController();
      const graceExpired = sleep(graceMs, false, { signal: grace.signal }).catch(() => false);
      const graceful = await Promise.race([exited.then(() => true), graceExpired]);
      grace.abort();
      if (!graceful) {
        child.kill("SIGKILL");
        await exited;
      }
    },
  };
}

function describeExit(child: ChildProcess): string {
  if (child.signalCode !== null) return `signal ${child.signalCode}`;
  if (child.exitCode !== null) return `code ${child.exitCode}`;
  return "spawn failed";
}

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BENCH_DIR = join(ROOT, "test/bench");

/** One of the bench's own helper processes (`test/bench/<file>`), run from source through tsx. */
export function spawnBenchChild(
  name: string,
  file: string,
  args: readonly string[] = [],
  env?: NodeJS.ProcessEnv,
): ChildHandle {
  return spawnNode(name, ["--import", "tsx", "--conditions=source", join(BENCH_DIR, file), ...args], {
    cwd: ROOT,
    ...(env ? { env } : {}),
  });
}
