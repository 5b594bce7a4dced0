// `npm run bench` (never part of `npm test`/CI): the service against a bare NATS→HTTP forwarder.
//
// Starts a nats-server (JetStream on), the fake OpenAI upstream, a local OTLP/HTTP receiver, the
// forwarder (forwarder-process.ts) and the built service with the production start command (the
// image's Node flags, `dist/main.js --config <temp yaml>`), events on and traces and metrics
// exported to the receiver. Then, in each of BENCH_ROUNDS rounds, drives closed-loop load at
// concurrency 1 and 64 against both, one after the other (which goes first alternates), and
// reports latency, throughput and CPU per request of each, the service/forwarder ratios of each
// round and their median against the bar.
//
// Environment: BENCH_ROUNDS (default 3), BENCH_WARMUP_MS, BENCH_MEASURE_MS (per phase),
// BENCH_PROFILE=1 (the service runs under `--cpu-prof`; prints where its CPU went),
// BENCH_EVENTS=off, BENCH_TELEMETRY=off (price them), BENCH_SERVICE_NODE_FLAGS (more Node flags),
// BENCH_SERVICE_ENTRY (another build of the service, e.g. a candidate change).
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { availableParallelism, constants as osConstants, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { ChatCompletionSchema, decodeReply, SUBJECTS } from "@llm-provider/contracts";
import { startNatsServer } from "../harness/nats-server.js";
import { spawnBenchChild, spawnNode, type ChildHandle } from "./child-process.js";
import { runClosedLoop, summarizeLatencies, type LoadBounds } from "./closed-loop.js";
import { formatProfile, summarizeCpuProfile, type TimeWindow } from "./cpu-profile.js";
import { natsSender } from "./nats-sender.js";
import { waitForSpans } from "./otlp-receiver-spans.js";
import { COMPLETE_CHAT_REQUEST, OPENAI_CHAT_REQUEST } from "./payloads.js";
import { CLOCK_TICKS_PER_SECOND, cpuMicrosPerRequest, machineCpu, snapshotCpu } from "./proc-stats.js";
import {
  formatJson,
  formatReport,
  HIGH_CONCURRENCY,
  LOW_CONCURRENCY,
  type BenchRun,
  type Phase,
} from "./report.js";
import type { Target } from "./report.js";
import {
  benchServiceConfig,
  SERVICE_LOG_LEVEL,
  serviceEnvironment,
  serviceNodeFlags,
  writeServiceConfig,
} from "./service-config.js";
import { waitForService } from "./service-ready.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SERVICE_ENTRY = process.env["BENCH_SERVICE_ENTRY"] ?? join(ROOT, "services/llm-provider/dist/main.js");
const FORWARDER_SUBJECT = "bench.forwarder.complete_chat";
const REQUEST_TIMEOUT_MS = 5_000;
const CLEANUP_STEP_TIMEOUT_MS = 15_000;
/** The service writes its profile on exit, which takes a moment for a long one. */
const SERVICE_STOP_GRACE_MS = 10_000;
/** complete_chat makes a SERVER and a CLIENT span; the batch processor exports within its delay. */
const SPANS_PER_REQUEST = 2;
const SPAN_EXPORT_WAIT_MS = 10_000;

interface Settings {
  rounds: number;
  warmup: LoadBounds;
  measure: LoadBounds;
  profile: boolean;
  events: boolean;
  telemetry: boolean;
}

function readSettings(): Settings {
  const positive = (name: string, fallback: number): number => {
    const value = Number(process.env[name]);
    return Number.isFinite(value) && value > 0 ? value : fallback;
  };
  return {
    rounds: Math.round(positive("BENCH_ROUNDS", 3)),
    warmup: { maxMs: positive("BENCH_WARMUP_MS", 2_000), maxRequests: 4_000 },
    measure: { maxMs: positive("BENCH_MEASURE_MS", 5_000), maxRequests: 500_000 },
    profile: process.env["BENCH_PROFILE"] === "1",
    events: process.env["BENCH_EVENTS"] !== "off",
    telemetry: process.env["BENCH_TELEMETRY"] !== "off",
  };
}

/** Which code was measured: the commit, and `+dirty` when the service or contracts have local changes. */
function describeSourceVersion(): string {
  try {
    const git = (...args: string[]) => execFileSync("git", args, { cwd: ROOT, encoding: "utf8" }).trim();
    const dirty = git("status", "--porcelain", "--", "services", "contracts") !== "";
    return `${git("rev-parse", "--short", "HEAD")}${dirty ? "+dirty" : ""}`;
  } catch {
    return "unknown";
  }
}

const progress = (text: string): void => void process.stderr.write(`[bench] ${text}\n`);

/** Every resource registers its release the moment it exists; released last first, each bounded. */
class Cleanup {
  readonly #steps: { name: string; release: () => Promise<unknown> }[] = [];

  add(name: string, release: () => Promise<unknown>): void {
    this.#steps.push({ name, release });
  }

  async releaseAll(): Promise<void> {
    for (let step = this.#steps.pop(); step; step = this.#steps.pop()) {
      const timedOut = sleep(CLEANUP_STEP_TIMEOUT_MS, "timeout" as const, { ref: false });
      try {
        if ((await Promise.race([step.release(), timedOut])) === "timeout")
          progress(`clean-up of ${step.name} timed out`);
      } catch (error) {
        progress(`clean-up of ${step.name} failed: ${String(error)}`);
      }
    }
  }

  child(child: ChildHandle, graceMs?: number): ChildHandle {
    this.add(child.name, () => child.stop(graceMs));
    return child;
  }
}

interface Environment {
  nc: NatsConnection;
  service: ChildHandle;
  /** Every process whose CPU is sampled, by report name. */
  pids: Map<string, number>;
  receiverUrl: string;
  profileDir: string | undefined;
}

async function startEnvironment(settings: Settings, cleanup: Cleanup): Promise<Environment> {
  const tempDir = await mkdtemp(join(tmpdir(), "llm-provider-bench-"));
  cleanup.add("temp dir", () => rm(tempDir, { recursive: true, force: true }));
  const upstream = cleanup.child(spawnBenchChild("fake upstream", "fake-upstream-process.ts"));
  const receiver = cleanup.child(spawnBenchChild("OTLP receiver", "otlp-receiver-process.ts"));
  const nats = await startNatsServer();
  cleanup.add("nats-server", () => nats.stop());
  const { baseUrl } = JSON.parse(await upstream.firstLine) as { baseUrl: string };
  const { url: receiverUrl } = JSON.parse(await receiver.firstLine) as { url: string };
  const forwarder = cleanup.child(
    spawnBenchChild("forwarder", "forwarder-process.ts", [
      nats.url,
      FORWARDER_SUBJECT,
      `${baseUrl}/chat/completions`,
    ]),
  );

  const config = benchServiceConfig(nats.url, baseUrl);
  if (!settings.events) config.events = { enabled: false };
  const env = serviceEnvironment();
  if (settings.telemetry) {
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiverUrl;
    env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
  }
  const profileDir = settings.profile
    ? await mkdtemp(join(tmpdir(), "llm-provider-bench-profile-"))
    : undefined;
  const profileFlags = profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : [];
  const configPath = await writeServiceConfig(tempDir, config);
  const service = cleanup.child(
    spawnNode(
      "llm-provider",
      [...serviceNodeFlags(), ...profileFlags, SERVICE_ENTRY, "--config", configPath],
      {
        cwd: ROOT,
        env,
      },
    ),
    SERVICE_STOP_GRACE_MS,
  );

  const nc = await connect({ servers: nats.url, name: "bench-load-generator", reconnect: false });
  cleanup.add("load generator connection", () => nc.close());
  await forwarder.firstLine;
  await waitForService(nc, service);
  return {
    nc,
    service,
    pids: new Map([
      ["service", service.pid],
      ["forwarder", forwarder.pid],
      ["nats-server", nats.pid],
      ["upstream", upstream.pid],
      ["OTLP receiver", receiver.pid],
      ["load generator", process.pid],
    ]),
    receiverUrl,
    profileDir,
  };
}

const encoder = new TextEncoder();
let serviceRequestsSent = 0;

function senderFor(target: Target, nc: NatsConnection) {
  if (target === "forwarder")
    return natsSender(nc, FORWARDER_SUBJECT, encoder.encode(JSON.stringify(OPENAI_CHAT_REQUEST)));
  const send = natsSender(nc, SUBJECTS.completeChat, encoder.encode(JSON.stringify(COMPLETE_CHAT_REQUEST)));
  return () => {
    serviceRequestsSent++;
    return send();
  };
}

/** One request to each, checked in full (the load loop only checks for error headers). */
async function checkReplies(nc: NatsConnection): Promise<void> {
  const reply = await nc.request(SUBJECTS.completeChat, JSON.stringify(COMPLETE_CHAT_REQUEST), {
    timeout: REQUEST_TIMEOUT_MS,
  });
  serviceRequestsSent++;
  const completion = decodeReply(reply, ChatCompletionSchema);
  if (!completion.content?.startsWith("echo: ")) throw new Error(`unexpected completion: ${reply.string()}`);
  const forwarded = await nc.request(FORWARDER_SUBJECT, JSON.stringify(OPENAI_CHAT_REQUEST), {
    timeout: REQUEST_TIMEOUT_MS,
  });
  if (!forwarded.string().includes('"chat.completion"'))
    throw new Error(`unexpected forwarder reply: ${forwarded.string().slice(0, 300)}`);
}

const monotonicMicros = (): number => Number(process.hrtime.bigint() / 1000n);

async function measurePhase(
  env: Environment,
  settings: Settings,
  round: number,
  target: Target,
  concurrency: number,
  signal: AbortSignal,
): Promise<{ phase: Phase; window: TimeWindow }> {
  progress(`round ${round}: ${target} @${concurrency}`);
  const send = senderFor(target, env.nc);
  await runClosedLoop(send, concurrency, settings.warmup, signal);
  signal.throwIfAborted();
  const cpuBefore = snapshotCpu(env.pids);
  const machineBefore = machineCpu();
  const startUs = monotonicMicros();
  const outcome = await runClosedLoop(send, concurrency, settings.measure, signal);
  const window = { startUs, endUs: monotonicMicros() };
  const machineBusy = machineCpu().busyMicros - machineBefore.busyMicros;
  const cpu = cpuMicrosPerRequest(cpuBefore, snapshotCpu(env.pids), outcome.requests);
  signal.throwIfAborted();
  const ours = Object.values(cpu).reduce((sum, perRequest) => sum + perRequest * outcome.requests, 0);
  const phase: Phase = {
    round,
    target,
    concurrency,
    requests: outcome.requests,
    errors: outcome.errors,
    firstError: outcome.firstError,
    requestsPerSecond: (outcome.requests * 1000) / outcome.elapsedMs,
    latencyMs: summarizeLatencies(outcome.latenciesMs),
    cpuMicrosPerRequest: cpu,
    otherLoadPercent: Math.max(
      0,
      (100 * (machineBusy - ours)) / ((window.endUs - window.startUs) * availableParallelism()),
    ),
  };
  return { phase, window };
}

/** Every round: each concurrency, both targets back to back; which goes first alternates by round. */
async function runRounds(env: Environment, settings: Settings, signal: AbortSignal) {
  const phases: Phase[] = [];
  const profiled = new Map<number, TimeWindow[]>();
  for (let round = 1; round <= settings.rounds; round++) {
    const order: Target[] = round % 2 === 1 ? ["forwarder", "service"] : ["service", "forwarder"];
    for (const concurrency of [LOW_CONCURRENCY, HIGH_CONCURRENCY]) {
      for (const target of order) {
        const { phase, window } = await measurePhase(env, settings, round, target, concurrency, signal);
        phases.push(phase);
        if (target === "service") profiled.set(concurrency, [...(profiled.get(concurrency) ?? []), window]);
      }
    }
  }
  return { phases, profiled };
}

/** Stops the service (it writes its profile on exit) and prints where its CPU went at each concurrency. */
async function reportProfile(env: Environment, windows: ReadonlyMap<number, TimeWindow[]>): Promise<void> {
  if (!env.profileDir) return;
  await env.service.stop(SERVICE_STOP_GRACE_MS);
  const file = (await readdir(env.profileDir)).find((name) => name.endsWith(".cpuprofile"));
  if (!file) return progress(`no .cpuprofile in ${env.profileDir}`);
  const path = join(env.profileDir, file);
  const lines = [``, `service CPU profile: ${path} (kept; open it in Chrome DevTools)`];
  for (const [concurrency, measured] of windows) {
    const summary = await summarizeCpuProfile(path, measured, Number(process.env["BENCH_PROFILE_TOP"] ?? 25));
    lines.push(...formatProfile(summary, `service @${concurrency}, measured phases`));
  }
  for (const line of lines) process.stdout.write(`${line}\n`);
}

async function runBenchmark(settings: Settings, cleanup: Cleanup, signal: AbortSignal): Promise<boolean> {
  const startedAt = new Date().toISOString();
  progress("starting nats-server, fake upstream, OTLP receiver, forwarder and the service");
  const env = await startEnvironment(settings, cleanup);
  await checkReplies(env.nc);
  const { phases, profiled } = await runRounds(env, settings, signal);
  let spans: BenchRun["spans"];
  if (settings.telemetry) {
    const expected = serviceRequestsSent * SPANS_PER_REQUEST;
    spans = { expected, received: await waitForSpans(env.receiverUrl, expected, SPAN_EXPORT_WAIT_MS) };
  }
  const run: BenchRun = {
    startedAt,
    sourceVersion: describeSourceVersion(),
    serviceEntry: SERVICE_ENTRY,
    node: process.versions.node,
    cpus: availableParallelism(),
    clockTicksPerSecond: CLOCK_TICKS_PER_SECOND,
    serviceLogLevel: SERVICE_LOG_LEVEL,
    events: settings.events,
    telemetry: settings.telemetry,
    profiled: settings.profile,
    bounds: { warmup: settings.warmup, measure: settings.measure },
    phases,
    ...(spans ? { spans } : {}),
  };
  await reportProfile(env, profiled);
  const report = formatReport(run);
  for (const line of report.lines) process.stdout.write(`${line}\n`);
  const stderr = env.service.stderrTail().trim();
  if (stderr) process.stdout.write(`the service wrote to stderr:\n${stderr}\n\n`);
  process.stdout.write(`${formatJson(run, report.verdict)}\n`);
  return report.verdict.errorFree && report.verdict.spansComplete;
}

/** Ctrl-C or SIGTERM stops the load and cleans up; a second one exits at once. */
function stopOnSignals(controller: AbortController): () => number | undefined {
  let received: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (received) process.exit(128 + osConstants.signals[signal]);
    received = signal;
    progress(`${signal}: stopping and cleaning up (again to force)`);
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return () => (received ? 128 + osConstants.signals[received] : undefined);
}

async function main(): Promise<number> {
  const settings = readSettings();
  const controller = new AbortController();
  const signalExitCode = stopOnSignals(controller);
  const phaseMs = settings.warmup.maxMs + settings.measure.maxMs;
  const deadlineMs = 60_000 + settings.rounds * 4 * phaseMs * 1.5;
  const watchdog = setTimeout(
    () => controller.abort(new Error(`the run took longer than ${deadlineMs} ms`)),
    deadlineMs,
  );
  const cleanup = new Cleanup();
  try {
    return (await runBenchmark(settings, cleanup, controller.signal)) ? 0 : 1;
  } catch (error) {
    progress(`failed: ${error instanceof Error ? error.message : String(error)}`);
    return signalExitCode() ?? 1;
  } finally {
    clearTimeout(watchdog);
    await cleanup.releaseAll();
  }
}

process.exit(await main());
