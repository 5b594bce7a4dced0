// Starts a real `nats-server` process for tests, the way nats.js's own test kit does:
// a config in a fresh temp dir, a random loopback port below the ephemeral range (see
// loopback-port.ts), readiness read from the ports file.
import { spawn, type ChildProcess } from "node:child_process";
import { constants as fsConstants, rmSync } from "node:fs";
import { access, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { chooseLoopbackPort, isAddressInUse } from "./loopback-port.js";

export interface NatsServerOptions {
  /** Enable JetStream with a store dir inside the temp dir. Default true. */
  jetstream?: boolean;
  /** Server `max_payload` in bytes (server default is 1 MiB). */
  maxPayload?: number;
  /** Appended verbatim to the generated config. */
  extraConfig?: string;
}

export interface NatsServerHandle {
  /** `nats://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** PID of the current server process (changes after `restart()`). */
  pid: number;
  /** JetStream store dir (inside the temp dir that `stop()` removes). */
  storeDir: string;
  /** SIGTERM, wait for exit (SIGKILL after 5 s), remove the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Stop, then start again on the same port with the same store dir; resolves once accepting connections. */
  restart(): Promise<void>;
  /**
   * SIGKILL by default (a crash: no shutdown, no lame-duck), or the given signal (SIGTERM: a clean
   * shutdown); resolves once the process exited. The store dir stays for `restart()`.
   */
  kill(signal?: "SIGKILL" | "SIGTERM"): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;
/** Starts tried when the chosen port was taken before the server bound it. */
const START_ATTEMPTS = 3;
const STOP_GRACE_MS = 5_000;
const POLL_INTERVAL_MS = 20;
const STDERR_TAIL_CHARS = 4_000;

interface ServerProcess {
  child: ChildProcess;
  pid: number;
  /** Last few KB of the server's stderr (where nats-server logs), for error messages. */
  stderrTail: () => string;
  /** Settles when the process has exited (never rejects). */
  exited: Promise<void>;
}

interface ServerLayout {
  dir: string;
  configPath: string;
  storeDir: string;
}

// Every server process this module spawned and that is still running, with its temp dir.
// Only these PIDs are ever killed.
const runningChildren = new Map<ChildProcess, string>();
let exitHookInstalled = false;

/** Make sure no server outlives the test process, even when a test crashes before `stop()`. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const [child, dir] of runningChildren) {
      child.kill("SIGKILL");
      try {
        rmSync(dir, { recursive: true, force: true }); // "exit" handlers must be synchronous
      } catch {
        // best effort: the killed server may still be releasing files
      }
    }
  });
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `NATS_SERVER_BIN`, else `nats-server` on PATH, else Debian's `/usr/sbin/nats-server`. */
export async function resolveNatsServerBinary(): Promise<string> {
  const fromEnv = process.env["NATS_SERVER_BIN"];
  if (fromEnv) return fromEnv;
  for (const dir of (process.env["PATH"] ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, "nats-server");
    if (await isExecutable(candidate)) return candidate;
  }
  return "/usr/sbin/nats-server";
}

function buildConfig(layout: ServerLayout, port: number, options: NatsServerOptions): string {
  // Loopback only; the ports file tells when the server listens.
  const lines = [`listen: 127.0.0.1:${port}`, `ports_file_dir: ${JSON.stringify(layout.dir)}`];
  if (options.maxPayload !== undefined) lines.push(`max_payload: ${options.maxPayload}`);
  if (options.jetstream ?? true) lines.push(`jetstream { store_dir: ${JSON.stringify(layout.storeDir)} }`);
  if (options.extraConfig) lines.push(options.extraConfig);
  return lines.join("\n") + "\n";
}

function spawnServer(binary: string, layout: ServerLayout): ServerProcess {
  const child = spawn(binary, ["-c", layout.configPath], { stdio: ["ignore", "ignore", "pipe"] });
  runningChildren.set(child, layout.dir);
  installExitHook();

  // The pipe must be drained continuously or a chatty server blocks on its own logging.
  let tail = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    tail = (tail + chunk).slice(-STDERR_TAIL_CHARS);
  });

  const exited = new Promise<void>((resolve) => {
    const done = (): void => {
      runningChildren.delete(child);
      resolve();
    };
    child.once("exit", done);
    // Spawn failure (e.g. ENOENT) emits "error" and no "exit".
    child.once("error", (err) => {
      tail += `\n[spawn error] ${err.message}`;
      done();
    });
  });

  return { child, pid: child.pid ?? -1, stderrTail: () => tail, exited };
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Reads the client port from `nats-server_<pid>.ports`: `{"nats":["nats://127.0.0.1:PORT"]}`. */
async function readClientPort(portsFile: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(portsFile, "utf8");
  } catch {
    return undefined; // not written yet
  }
  try {
    const parsed = JSON.parse(text) as { nats?: string[] };
    const url = parsed.nats?.[0];
    return url ? Number(new URL(url).port) : undefined;
  } catch {
    return undefined; // partially written
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

function startupError(binary: string, server: ServerProcess, reason: string): Error {
  return new Error(
    `nats-server (${binary}, pid ${server.pid}) ${reason}. ` +
      `Set NATS_SERVER_BIN to use another binary. stderr tail:\n${server.stderrTail() || "(empty)"}`,
  );
}

/** Waits for the ports file, then for a TCP connect; fails early if the process dies. */
async function waitUntilReady(binary: string, dir: string, server: ServerProcess): Promise<number> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  const portsFile = join(dir, `nats-server_${server.pid}.ports`);
  if (server.pid < 0) {
    await server.exited; // the spawn "error" event carries the reason (e.g. ENOENT)
    throw startupError(binary, server, "could not be spawned");
  }
  let port: number | undefined;
  while (Date.now() < deadline) {
    if (hasExited(server.child)) throw startupError(binary, server, "exited during startup");
    port ??= await readClientPort(portsFile);
    if (port !== undefined && (await canConnect(port))) return port;
    await sleep(POLL_INTERVAL_MS);
  }
  throw startupError(binary, server, `did not accept connections within ${START_TIMEOUT_MS} ms`);
}

async function stopProcess(server: ServerProcess): Promise<void> {
  if (hasExited(server.child)) return server.exited;
  server.child.kill("SIGTERM");
  // The grace timer is cancelled afterwards so it does not keep the event loop alive for 5 s.
  const grace = new AbortController();
  const graceExpired = sleep(STOP_GRACE_MS, false, { signal: grace.signal }).catch(() => false);
  const graceful = await Promise.race([server.exited.then(() => true), graceExpired]);
  grace.abort();
  if (!graceful) {
    server.child.kill("SIGKILL");
    await server.exited;
  }
}

async function launch(
  binary: string,
  layout: ServerLayout,
  port: number,
  options: NatsServerOptions,
): Promise<{ server: ServerProcess; port: number }> {
  await writeFile(layout.configPath, buildConfig(layout, port, options));
  const server = spawnServer(binary, layout);
  try {
    return { server, port: await waitUntilReady(binary, layout.dir, server) };
  } catch (err) {
    await stopProcess(server);
    throw err;
  }
}

export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const binary = await resolveNatsServerBinary();
  const dir = await mkdtemp(join(tmpdir(), "nats-test-"));
  const layout: ServerLayout = { dir, configPath: join(dir, "nats-server.conf"), storeDir: join(dir, "js") };

  let current: { server: ServerProcess; port: number };
  for (let attempt = 1; ; attempt++) {
    const port = await chooseLoopbackPort();
    try {
      current = await launch(binary, layout, port, options);
      break;
    } catch (err) {
      // Another process bound the port after it was chosen: choose again. (A port of the caller's
      // extraConfig that was taken is the caller's to choose again.)
      if (attempt < START_ATTEMPTS && isAddressInUse(err, [port])) continue;
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }
  const port = current.port;
  let stopped = false;

  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    get pid() {
      return current.server.pid;
    },
    storeDir: layout.storeDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopProcess(current.server);
      await rm(dir, { recursive: true, force: true });
    },
    async kill(signal = "SIGKILL") {
      if (hasExited(current.server.child)) return;
      // SIGTERM: the same bounded stop as `stop()` (SIGKILL after the grace period), dir kept.
      if (signal === "SIGTERM") return stopProcess(current.server);
      current.server.child.kill(signal);
      await current.server.exited;
    },
    async restart() {
      if (stopped) throw new Error("nats-server handle was stopped; cannot restart");
      await stopProcess(current.server);
      // Same port written explicitly, so clients reconnect to the same URL.
      current = await launch(binary, layout, port, options);
    },
  };
}
