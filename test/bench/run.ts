// Benchmark of issue #2 — `npm run bench` (never part of `npm test`/CI).
//
// Starts a nats-server, the fake OpenAI upstream and a bare NATS echo responder (each its own
// process), and the built service (`node services/llm-provider/dist/main.js --config <temp yaml>`).
// Then drives closed-loop load at two concurrencies against: the echo responder and the upstream
// directly over HTTP (together: the floor), and the service's complete_chat. Prints latency,
// throughput, CPU per request of every process, the service's overhead over the floor and the
// targets, then one JSON line with all figures.
//
// Environment: BENCH_WARMUP_MS, BENCH_MEASURE_MS (phase bounds), BENCH_PROFILE=1 (runs the
// service under `--cpu-prof` and summarises where its CPU went during the measured phases),
// BENCH_SERVICE_NODE_FLAGS (flags for the service process, after the production image's),
// BENCH_EVENTS=off / BENCH_EVENTS_LINGER_MS=<ms> (events off, or another events.linger_ms),
// BENCH_EVENTS_DELIVERY=after_reply|before_reply, BENCH_STREAM_UPSTREAM=false (complete_chat
// reads the upstream unstreamed),
// BENCH_SERVICE_ENTRY (another service build to run instead of services/llm-provider/dist/main.js),
// BENCH_RATE=<req/s> (also measures the service under open-loop load at that fixed rate: the
// fair ground for comparing two variants' CPU per request, see fixed-rate.ts).
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { availableParallelism, constants as osConstants, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { ChatCompletionSchema, decodeReply, SUBJECTS } from "@llm-provider/contracts";
import type { Agent } from "undici";
import { request as httpRequest } from "undici";
import { createHttpDispatcher } from "../../services/llm-provider/src/providers/http/undici-fetch.js";
import { startNatsServer } from "../harness/nats-server.js";
import { natsSender } from "./nats-sender.js";
import { waitForSpans } from "./otlp-receiver-spans.js";
import { waitForService } from "./service-ready.js";
import { spawnBenchChild, spawnNode, type ChildHandle } from "./child-process.js";
import {
  runClosedLoop,
  summarizeLatencies,
  type LoadBounds,
  type LoadResult,
  type SendRequest,
} from "./closed-loop.js";
import { formatProfile, summarizeCpuProfile, type TimeWindow } from "./cpu-profile.js";
import { runAtFixedRate, type FixedRateResult } from "./fixed-rate.js";
import { COMPLETE_CHAT_REQUEST, OPENAI_CHAT_REQUEST } from "./payloads.js";
import {
  CLOCK_TICKS_PER_SECOND,
  cpuMicrosPerRequest,
  machineCpu,
  processRssMiB,
  snapshotCpu,
} from "./proc-stats.js";
import type { CpuSnapshot, MachineCpu } from "./proc-stats.js";
import { evaluate, formatJson, formatReport, PHASE_LABELS } from "./report.js";
import type { BenchRun, PhaseResult, PhaseTarget } from "./report.js";
import {
  benchServiceConfig,
  SERVICE_LOG_LEVEL,
  serviceEnvironment,
  serviceNodeFlags,
  writeServiceConfig,
} from "./service-config.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** BENCH_SERVICE_ENTRY runs another build (e.g. a candidate change) under the same load. */
const SERVICE_ENTRY = process.env["BENCH_SERVICE_ENTRY"] ?? join(ROOT, "services/llm-provider/dist/main.js");

const LOW_CONCURRENCY = 1;
const HIGH_CONCURRENCY = 64;
const ECHO_SUBJECT = "bench.echo.complete_chat";
const REQUEST_TIMEOUT_MS = 5_000;
/** Everything, start-up and clean-up included; a normal run takes about 45 s. */
const RUN_DEADLINE_MS = 90_000;
const CLEANUP_STEP_TIMEOUT_MS = 15_000;
/** The service writes its profile on exit, which takes a moment for a long one. */
const SERVICE_STOP_GRACE_MS = 10_000;
const PROFILE_TOP_ENTRIES = 20;

interface Settings {
  warmup: LoadBounds;
  measure: LoadBounds;
  profile: boolean;
  /** BENCH_RATE: requests per second of the extra open-loop service phase, if any. */
  fixedRate: number | undefined;
}

function readSettings(): Settings {
  const milliseconds = (name: string, fallback: number): number => {
    const value = Number(process.env[name]);
    return Number.isFinite(value) && value > 0 ? value : fallback;
  };
  return {
    warmup: { maxMs: milliseconds("BENCH_WARMUP_MS", 2_000), maxRequests: 2_000 },
    measure: { maxMs: milliseconds("BENCH_MEASURE_MS", 5_000), maxRequests: 500_000 },
    profile: process.env["BENCH_PROFILE"] === "1",
    fixedRate: Number(process.env["BENCH_RATE"]) > 0 ? Number(process.env["BENCH_RATE"]) : undefined,
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

// ---------------------------------------------------------------------------------------------
// Clean-up: every resource registers its release the moment it exists; released in reverse order.

class Cleanup {
  readonly #steps: { name: string; release: () => Promise<unknown> }[] = [];

  add(name: string, release: () => Promise<unknown>): void {
    this.#steps.push({ name, release });
  }

  /** Runs every step once, last added first; a step that fails or hangs does not stop the others. */
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
}

// ---------------------------------------------------------------------------------------------
// Processes

interface Environment {
  nc: NatsConnection;
  agent: Agent;
  upstreamChatUrl: string;
  service: ChildHandle;
  /** Every process whose CPU is measured, by report name. */
  pids: Map<string, number>;
  profileDir: string | undefined;
  /** The OTLP/HTTP receiver the service exports to (BENCH_OTLP=1). */
  otlpReceiverUrl: string | undefined;
}

/** Registers the stop of a child just spawned, so that no later failure can leak it. */
function tracked(cleanup: Cleanup, child: ChildHandle, graceMs?: number): ChildHandle {
  cleanup.add(child.name, () => child.stop(graceMs));
  return child;
}

async function startEnvironment(settings: Settings, cleanup: Cleanup): Promise<Environment> {
  const tempDir = await mkdtemp(join(tmpdir(), "llm-provider-bench-"));
  cleanup.add("temp dir", () => rm(tempDir, { recursive: true, force: true }));

  const upstream = tracked(cleanup, spawnBenchChild("fake upstream", "fake-upstream-process.ts"));
  // JetStream on, as in production: the service may publish its events there.
  const nats = await startNatsServer();
  cleanup.add("nats-server", () => nats.stop());
  const { baseUrl } = JSON.parse(await upstream.firstLine) as { baseUrl: string };

  const echo = tracked(
    cleanup,
    spawnBenchChild("echo responder", "echo-responder-process.ts", [nats.url, ECHO_SUBJECT]),
  );
  // BENCH_EVENTS=off and BENCH_OTLP=1 price the events and the telemetry export (issue #6).
  const serviceConfig = benchServiceConfig(nats.url, baseUrl);
  if (process.env["BENCH_EVENTS"] === "off") serviceConfig.events = { enabled: false };
  else if (process.env["BENCH_EVENTS_LINGER_MS"])
    serviceConfig.events = { linger_ms: Number(process.env["BENCH_EVENTS_LINGER_MS"]) };
  // BENCH_EVENTS_DELIVERY=after_reply and BENCH_STREAM_UPSTREAM=false price what holding a reply
  // for its event and reading the upstream answer as a stream cost.
  const delivery = process.env["BENCH_EVENTS_DELIVERY"];
  if (delivery === "after_reply" || delivery === "before_reply")
    serviceConfig.events = { ...serviceConfig.events, delivery };
  if (process.env["BENCH_STREAM_UPSTREAM"] === "false")
    for (const provider of serviceConfig.providers)
      provider.config = { ...provider.config, stream_upstream: false };
  const serviceEnv = serviceEnvironment();
  let otlpReceiverUrl: string | undefined;
  if (process.env["BENCH_OTLP"] === "1") {
    const receiver = tracked(cleanup, spawnBenchChild("OTLP receiver", "otlp-receiver-process.ts"));
    otlpReceiverUrl = (JSON.parse(await receiver.firstLine) as { url: string }).url;
    serviceEnv["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlpReceiverUrl;
    serviceEnv["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
  }
  console.log(
    `[bench] events ${serviceConfig.events?.enabled === false ? "off" : `on (linger ${serviceConfig.events?.linger_ms ?? "default"} ms)`}, ` +
      `OpenTelemetry export ${process.env["BENCH_OTLP"] === "1" ? "on (local OTLP/HTTP receiver)" : "off"}`,
  );
  const configPath = await writeServiceConfig(tempDir, serviceConfig);
  const profileDir = settings.profile
    ? await mkdtemp(join(tmpdir(), "llm-provider-bench-profile-"))
    : undefined;
  const profileFlags = profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : [];
  const nodeFlags = serviceNodeFlags();
  const service = tracked(
    cleanup,
    spawnNode("llm-provider", [...nodeFlags, ...profileFlags, SERVICE_ENTRY, "--config", configPath], {
      cwd: ROOT,
      env: serviceEnv,
    }),
    SERVICE_STOP_GRACE_MS,
  );

  // noAsyncTraces: no Error (with stack) built per request, so the load generator takes less of the
  // CPUs it shares with what it measures.
  const nc = await connect({
    servers: nats.url,
    name: "bench-load-generator",
    reconnect: false,
    noAsyncTraces: true,
  });
  cleanup.add("load generator connection", () => nc.close());
  const agent = createHttpDispatcher(); // the very pool the service uses, so the HTTP floor is fair
  cleanup.add("HTTP agent", () => agent.close());

  await echo.firstLine;
  await waitForService(nc, service);
  return {
    nc,
    agent,
    upstreamChatUrl: `${baseUrl}/chat/completions`,
    service,
    pids: new Map([
      ["service", service.pid],
      ["nats-server", nats.pid],
      ["upstream", upstream.pid],
      ["echo", echo.pid],
      ["load generator", process.pid],
    ]),
    profileDir,
    otlpReceiverUrl,
  };
}

// ---------------------------------------------------------------------------------------------
// Requests

const encoder = new TextEncoder();

function httpSender(agent: Agent, url: string, body: string): SendRequest {
  return async () => {
    const response = await httpRequest(url, {
      dispatcher: agent,
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer sk-bench" },
      body,
    });
    const bytes = await response.body.arrayBuffer(); // read whole, as the service does
    if (response.statusCode !== 200) {
      throw new Error(`HTTP ${response.statusCode}: ${Buffer.from(bytes).toString("utf8", 0, 300)}`);
    }
  };
}

/** One request to each target, checked in full (the load loop only checks for error headers). */
async function checkReplies(env: Environment): Promise<BenchRun["replyBytes"]> {
  const serviceReply = await env.nc.request(SUBJECTS.completeChat, JSON.stringify(COMPLETE_CHAT_REQUEST), {
    timeout: REQUEST_TIMEOUT_MS,
  });
  const completion = decodeReply(serviceReply, ChatCompletionSchema);
  if (!completion.content?.startsWith("echo: "))
    throw new Error(`unexpected completion: ${serviceReply.string()}`);
  const echoReply = await env.nc.request(ECHO_SUBJECT, "", { timeout: REQUEST_TIMEOUT_MS });
  const upstream = await httpRequest(env.upstreamChatUrl, {
    dispatcher: env.agent,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(OPENAI_CHAT_REQUEST),
  });
  const upstreamBody = await upstream.body.arrayBuffer();
  if (upstream.statusCode !== 200) throw new Error(`upstream answered HTTP ${upstream.statusCode}`);
  return {
    service: serviceReply.data.length,
    echo: echoReply.data.length,
    upstream: upstreamBody.byteLength,
  };
}

function senderFor(target: PhaseTarget, env: Environment): SendRequest {
  switch (target) {
    case "echo":
      return natsSender(env.nc, ECHO_SUBJECT, encoder.encode(JSON.stringify(COMPLETE_CHAT_REQUEST)));
    case "upstream":
      return httpSender(env.agent, env.upstreamChatUrl, JSON.stringify(OPENAI_CHAT_REQUEST));
    case "service": {
      const send = natsSender(
        env.nc,
        SUBJECTS.completeChat,
        encoder.encode(JSON.stringify(COMPLETE_CHAT_REQUEST)),
      );
      return () => {
        serviceRequestsSent++;
        return send();
      };
    }
  }
}

/** complete_chat requests sent to the service (warm-ups included): each makes a SERVER and a CLIENT span. */
let serviceRequestsSent = 0;
const SPANS_PER_REQUEST = 2;
/** The SDK's batch span processor exports what is left at least this often (its default delay). */
const SPAN_EXPORT_DELAY_MS = 5_000;

// ---------------------------------------------------------------------------------------------
// Phases

const monotonicMicros = (): number => Number(process.hrtime.bigint() / 1000n);

/** How a phase loads its target: N requests in flight (closed loop), or N started per second. */
type Load = { concurrency: number } | { perSecond: number };

async function measurePhase(
  env: Environment,
  settings: Settings,
  target: PhaseTarget,
  load: Load,
  signal: AbortSignal,
): Promise<{ result: PhaseResult; window: TimeWindow }> {
  const loadLabel = "concurrency" in load ? `@${load.concurrency}` : `at ${load.perSecond} req/s`;
  progress(`${PHASE_LABELS[target]} ${loadLabel}: warm-up, then measuring`);
  const send = senderFor(target, env);
  const run = (bounds: LoadBounds): Promise<LoadResult | FixedRateResult> =>
    "concurrency" in load
      ? runClosedLoop(send, load.concurrency, bounds, signal)
      : runAtFixedRate(send, load.perSecond, bounds, signal);
  await run(settings.warmup);
  signal.throwIfAborted();

  const cpuBefore = snapshotCpu(env.pids);
  const machineBefore = machineCpu();
  const startUs = monotonicMicros();
  const outcome = await run(settings.measure);
  const window = { startUs, endUs: monotonicMicros() };
  const machineAfter = machineCpu();
  const cpuAfter = snapshotCpu(env.pids);
  signal.throwIfAborted();
  const disturbance = measureDisturbance(
    { before: cpuBefore, after: cpuAfter },
    { before: machineBefore, after: machineAfter },
    window.endUs - window.startUs,
  );

  const result: PhaseResult = {
    target,
    concurrency: "concurrency" in load ? load.concurrency : 0,
    ...("maxInFlight" in outcome
      ? {
          fixedRate: {
            perSecond: outcome.offeredPerSecond,
            maxInFlight: outcome.maxInFlight,
            ticksAtCap: outcome.ticksAtCap,
          },
        }
      : {}),
    requests: outcome.requests,
    errors: outcome.errors,
    firstError: outcome.firstError,
    elapsedMs: outcome.elapsedMs,
    requestsPerSecond: (outcome.requests * 1000) / outcome.elapsedMs,
    latencyMs: summarizeLatencies(outcome.latenciesMs),
    cpuMicrosPerRequest: cpuMicrosPerRequest(cpuBefore, cpuAfter, outcome.requests),
    serviceRssMiB: processRssMiB(env.service.pid),
    ...disturbance,
  };
  return { result, window };
}

/** How much of the machine others used during a phase (their load skews every figure). */
function measureDisturbance(
  ours: { before: CpuSnapshot; after: CpuSnapshot },
  machine: { before: MachineCpu; after: MachineCpu },
  elapsedMicros: number,
) {
  let ourMicros = 0;
  for (const [name, end] of ours.after) ourMicros += end - (ours.before.get(name) ?? end);
  const capacity = elapsedMicros * availableParallelism();
  const machineBusy = machine.after.busyMicros - machine.before.busyMicros;
  return {
    otherLoadPercent: Math.max(0, (100 * (machineBusy - ourMicros)) / capacity),
    stealPercent: (100 * (machine.after.stealMicros - machine.before.stealMicros)) / capacity,
  };
}

/** A measured service phase, for the profile. */
interface ServiceWindow {
  label: string;
  window: TimeWindow;
}

async function runPhases(env: Environment, settings: Settings, signal: AbortSignal) {
  const phases: PhaseResult[] = [];
  const serviceWindows: ServiceWindow[] = [];
  for (const target of ["echo", "upstream", "service"] as const) {
    for (const concurrency of [LOW_CONCURRENCY, HIGH_CONCURRENCY]) {
      const { result, window } = await measurePhase(env, settings, target, { concurrency }, signal);
      phases.push(result);
      if (target === "service") serviceWindows.push({ label: `@${concurrency}`, window });
    }
  }
  if (settings.fixedRate !== undefined) {
    const perSecond = settings.fixedRate;
    const { result, window } = await measurePhase(env, settings, "service", { perSecond }, signal);
    phases.push(result);
    serviceWindows.push({ label: `at ${perSecond} req/s`, window });
  }
  return { phases, serviceWindows };
}

// ---------------------------------------------------------------------------------------------
// Profile

/** Stops the service (it writes its profile on exit) and prints where its CPU went in each measured phase. */
async function reportProfile(env: Environment, windows: readonly ServiceWindow[]): Promise<void> {
  if (!env.profileDir) return;
  await env.service.stop(SERVICE_STOP_GRACE_MS);
  const file = (await readdir(env.profileDir)).find((name) => name.endsWith(".cpuprofile"));
  if (!file) {
    progress(`no .cpuprofile in ${env.profileDir}`);
    return;
  }
  const path = join(env.profileDir, file);
  const lines = [``, `service CPU profile: ${path} (kept; open it in Chrome DevTools)`];
  for (const { label, window } of windows) {
    const summary = await summarizeCpuProfile(path, [window], PROFILE_TOP_ENTRIES);
    lines.push(...formatProfile(summary, `${PHASE_LABELS.service} ${label}, measured phase`));
  }
  for (const line of lines) process.stdout.write(`${line}\n`);
}

// ---------------------------------------------------------------------------------------------
// Main

/** With BENCH_OTLP=1, how many spans reached the receiver of those the requests made (all must). */
async function countExportedSpans(receiverUrl: string): Promise<{ received: number; expected: number }> {
  const expected = serviceRequestsSent * SPANS_PER_REQUEST;
  // Waits out the batch processor's delay for the last partial batch.
  const received = await waitForSpans(receiverUrl, expected, SPAN_EXPORT_DELAY_MS + 2_000);
  progress(`OTLP receiver got ${received} of ${expected} spans`);
  return { received, expected };
}

async function runBenchmark(settings: Settings, cleanup: Cleanup, signal: AbortSignal): Promise<boolean> {
  const startedAt = new Date().toISOString();
  progress("starting nats-server, fake upstream, echo responder and the service");
  const env = await startEnvironment(settings, cleanup);
  signal.throwIfAborted();
  const replyBytes = await checkReplies(env);
  const { phases, serviceWindows } = await runPhases(env, settings, signal);
  const otlpSpans = env.otlpReceiverUrl ? await countExportedSpans(env.otlpReceiverUrl) : undefined;

  const run: BenchRun = {
    startedAt,
    sourceVersion: describeSourceVersion(),
    serviceEntry: SERVICE_ENTRY,
    node: process.versions.node,
    cpus: availableParallelism(),
    clockTicksPerSecond: CLOCK_TICKS_PER_SECOND,
    serviceLogLevel: SERVICE_LOG_LEVEL,
    profiled: settings.profile,
    bounds: { warmup: settings.warmup, measure: settings.measure },
    replyBytes,
    lowConcurrency: LOW_CONCURRENCY,
    highConcurrency: HIGH_CONCURRENCY,
    phases,
    ...(otlpSpans ? { otlpSpans } : {}),
  };
  const verdicts = evaluate(run);
  await reportProfile(env, serviceWindows);
  for (const line of formatReport(run, verdicts)) process.stdout.write(`${line}\n`);
  reportServiceStderr(env.service);
  process.stdout.write(`${formatJson(run, verdicts)}\n`);
  return verdicts.errorFree;
}

/** Node warnings (e.g. MaxListenersExceededWarning) land on stderr; the service's logs go to stdout. */
function reportServiceStderr(service: ChildHandle): void {
  const text = service.stderrTail().trim();
  if (text) process.stdout.write(`the service wrote to stderr (last ${text.length} chars):\n${text}\n\n`);
}

/**
 * Ctrl-C or SIGTERM stops the load and cleans up; a second one exits at once (children are
 * SIGKILLed). Returns the exit code for the signal received, if any (128 + its number).
 */
function stopOnSignals(controller: AbortController): () => number | undefined {
  let received: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    const exitCode = 128 + osConstants.signals[signal];
    if (received) process.exit(exitCode);
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
  const watchdog = setTimeout(
    () => controller.abort(new Error(`the run took longer than ${RUN_DEADLINE_MS} ms`)),
    RUN_DEADLINE_MS,
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
