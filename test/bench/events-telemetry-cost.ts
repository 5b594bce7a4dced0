// What events and telemetry export cost together (issue #6) — `npm run bench:telemetry-cost`.
//
// Two instances of the built service run side by side, each on a nats-server of its own, both
// calling the same fake upstream:
//   - "bare": events off, OpenTelemetry off;
//   - "full": events on (JetStream, acknowledged) and OTLP/HTTP export of traces and metrics to
//     a local receiver in its own process.
// The load generator drives them in turns at one fixed rate (BENCH_RATE, default 800 req/s, open
// loop): BENCH_SWITCH_MS (default 250 ms) on one, then as long on the other, and so on through a
// block of BENCH_BLOCK_MS (default 4000 ms), the first variant alternating from block to block.
// Each block's figure per variant is the CPU time its process used during the block divided by
// the requests it served in it; the verdict is the median over BENCH_BLOCKS blocks (default 16)
// of (full − bare). Work a variant defers (event acks, span exports) lands in the block that
// follows, as the previous block's lands in this one; after a round's last block both settle for
// SETTLE_MS. The blocks are spread over BENCH_ROUNDS rounds (default 4), each with a fresh pair of
// instances started in turn order: whichever starts first costs more for as long as it runs, and
// each process has its own lasting luck besides (the GC's, the JIT's), which one pair would
// carry into every block. Beside it, the system calls (reads + writes) per request of each: a
// count that does not drift, and on this VM each socket call costs tens of µs.
//
// Why so: this VM's speed drifts, by more than the quantity measured, over seconds as well as
// minutes (neighbouring 2 s slices correlate at 0.3–0.6). Variants measured minutes apart (as two
// runs of run.ts are) differ by that drift; variants taking turns every quarter second share it.
// And at one fixed rate both variants handle the same number of requests per event-loop turn; at
// saturation (closed loop) the slower variant would also batch less per turn, and that would be
// counted as a cost of events and telemetry.
//
// BENCH_BASELINE_ENTRY=<another build's services/llm-provider/dist/main.js> compares two builds
// instead: the "bare" place runs that build, with events and telemetry on like the "full" one, and
// the difference is what this build changes (an A/B: no verdict).
// BENCH_BASELINE_NODE_FLAGS="<flags>" runs the "bare" place (this build unless BENCH_BASELINE_ENTRY
// names another) with events and telemetry on and these Node flags in place of the production ones:
// an A/B of Node flags.
// BENCH_EVENTS_LINGER_MS sets the full variant's events.linger_ms (default: the config's).
// BENCH_FULL=events or =telemetry gives the full variant only one of the two, to price it alone.
// It also checks that the full variant did its work: every span of its requests reached the
// receiver, and its event stream holds one event per request.
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { ChatCompletionSchema, decodeReply, SUBJECTS } from "@llm-provider/contracts";
import { startNatsServer } from "../harness/nats-server.js";
import { spawnBenchChild, spawnNode } from "./child-process.js";
import type { ChildHandle } from "./child-process.js";
import { runAtFixedRate } from "./fixed-rate.js";
import { natsSender } from "./nats-sender.js";
import { waitForSpans } from "./otlp-receiver-spans.js";
import { COMPLETE_CHAT_REQUEST } from "./payloads.js";
import { processCpuMicros, processSystemCalls } from "./proc-stats.js";
import { waitForService } from "./service-ready.js";
import {
  benchServiceConfig,
  serviceEnvironment,
  serviceNodeFlags,
  writeServiceConfig,
} from "./service-config.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SERVICE_ENTRY = join(ROOT, "services/llm-provider/dist/main.js");
const TARGET_US = 100;
const SPANS_PER_REQUEST = 2; // SERVER + CLIENT
/**
 * The batch span processor exports a full batch (512 spans) at once and what is left after this
 * delay (default 5 s): short here, so a slice's last spans are exported, and counted, in the
 * slice's own settle time instead of in the other variant's slice.
 */
const SPAN_EXPORT_DELAY_MS = 200;
/** Spans and events still on their way when the load ends may take this long to arrive. */
const COUNT_DEADLINE_MS = 20_000;
/** After the last block: its events' acks and last span export land in its figures. */
const SETTLE_MS = 500;
const EVENT_STREAM = "LLM_PROVIDER_EVENTS";

const positive = (name: string, fallback: number): number => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const BLOCKS = positive("BENCH_BLOCKS", 16);
/** The blocks are shared out over rounds, each with two freshly started instances (see startRound). */
const ROUNDS = positive("BENCH_ROUNDS", 4);
const BLOCK_MS = positive("BENCH_BLOCK_MS", 4_000);
const SWITCH_MS = positive("BENCH_SWITCH_MS", 250);
const RATE = positive("BENCH_RATE", 800);
/** Per instance and round: half at an eighth of the rate, half at the rate. */
const WARMUP_MS = positive("BENCH_WARMUP_MS", 10_000);
/** BENCH_FULL=events or =telemetry prices one of the two alone (the verdict needs both). */
const FULL = (process.env["BENCH_FULL"] ?? "both") as "both" | "events" | "telemetry";
const fullHasEvents = FULL !== "telemetry";
const fullHasTelemetry = FULL !== "events";
const BASELINE_ENTRY = process.env["BENCH_BASELINE_ENTRY"];
const BASELINE_NODE_FLAGS = process.env["BENCH_BASELINE_NODE_FLAGS"]?.split(" ").filter(Boolean);
/** An A/B (of builds or of Node flags) instead of bare against full: no verdict. */
const BASELINE = BASELINE_ENTRY !== undefined || BASELINE_NODE_FLAGS !== undefined;
const BASELINE_NAME = [BASELINE_ENTRY, BASELINE_NODE_FLAGS?.join(" ")].filter(Boolean).join(", ");
/** What runs in each place: in an A/B, both have events and telemetry. */
const hasEvents = (name: VariantName) => fullHasEvents && (name === "full" || BASELINE);
const hasTelemetry = (name: VariantName) => fullHasTelemetry && (name === "full" || BASELINE);
const entryOf = (name: VariantName) => (name === "bare" && BASELINE_ENTRY ? BASELINE_ENTRY : SERVICE_ENTRY);
const nodeFlagsOf = (name: VariantName) =>
  name === "bare" && BASELINE_NODE_FLAGS ? BASELINE_NODE_FLAGS : serviceNodeFlags();

/**
 * BENCH_PIN=1: the services run on the last CPU, everything else (load generator, nats-servers,
 * upstream, receiver) on the others, so the full variant's helpers (the receiver, JetStream's
 * writes) do not compete with the service for its core. Off by default: on 2 CPUs the one left
 * for the helpers saturates at 800 req/s, JetStream falls behind, and the retried publishes
 * then count against the service.
 */
const PIN = process.env["BENCH_PIN"] === "1" && availableParallelism() >= 2;
const SERVICE_CPU = String(availableParallelism() - 1);
const OTHER_CPUS = `0-${availableParallelism() - 2}`;
function pin(pid: number, cpus: string): void {
  if (PIN) execFileSync("taskset", ["-a", "-p", "-c", cpus, String(pid)], { stdio: "ignore" });
}

const progress = (text: string): void => void process.stderr.write(`[bench:telemetry-cost] ${text}\n`);
const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

type VariantName = "bare" | "full";

interface Variant {
  name: VariantName;
  service: ChildHandle;
  nc: NatsConnection;
  /**
   * complete_chat requests answered with a completion (warm-up and check included): each made a
   * SERVER and a CLIENT span and an event. A refused one (`busy` while the service warms up)
   * makes a SERVER span alone.
   */
  answered: number;
  send: () => Promise<void>;
}

/** One variant's share of a block. */
interface Load {
  cpuMicrosPerRequest: number;
  systemCallsPerRequest: number;
  requests: number;
  rateHeld: boolean;
  errors: number;
  firstError: string | undefined;
}

type Block = Record<VariantName, Load>;

async function startVariant(
  name: VariantName,
  tempDir: string,
  upstreamBaseUrl: string,
  otlpUrl: string,
  release: (step: () => Promise<unknown>) => void,
): Promise<Variant> {
  const nats = await startNatsServer();
  release(() => nats.stop());
  pin(nats.pid, OTHER_CPUS);
  const config = benchServiceConfig(nats.url, upstreamBaseUrl);
  const env = serviceEnvironment();
  if (!hasEvents(name)) config.events = { enabled: false };
  else if (process.env["BENCH_EVENTS_LINGER_MS"])
    config.events = { linger_ms: Number(process.env["BENCH_EVENTS_LINGER_MS"]) };
  if (hasTelemetry(name)) {
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlpUrl;
    env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
    env["OTEL_BSP_SCHEDULE_DELAY"] = String(SPAN_EXPORT_DELAY_MS);
  }
  const dir = await mkdtemp(join(tempDir, `${name}-`));
  const configPath = await writeServiceConfig(dir, config);
  const service = spawnNode(
    `llm-provider (${name})`,
    [...nodeFlagsOf(name), entryOf(name), "--config", configPath],
    { cwd: ROOT, env },
  );
  release(() => service.stop(10_000));
  pin(service.pid, SERVICE_CPU);
  const nc = await connect({
    servers: nats.url,
    name: `bench-${name}`,
    reconnect: false,
    noAsyncTraces: true,
  });
  release(() => nc.close());
  await waitForService(nc, service);
  const body = new TextEncoder().encode(JSON.stringify(COMPLETE_CHAT_REQUEST));
  const request = natsSender(nc, SUBJECTS.completeChat, body);
  const variant: Variant = {
    name,
    service,
    nc,
    answered: 0,
    send: async () => {
      await request();
      variant.answered++;
    },
  };
  // One reply checked in full: the load loop only looks at the error header.
  variant.answered++;
  const completion = decodeReply(
    await nc.request(SUBJECTS.completeChat, body, { timeout: 5_000 }),
    ChatCompletionSchema,
  );
  if (!completion.content?.startsWith("echo: ")) throw new Error(`unexpected completion from ${name}`);
  return variant;
}

/** A block: the variants take turns every SWITCH_MS, `first` starting; each is charged its own CPU. */
async function measureBlock(
  variants: Record<VariantName, Variant>,
  first: VariantName,
  settle: boolean,
  signal: AbortSignal,
): Promise<Block> {
  const order = first === "bare" ? [variants.bare, variants.full] : [variants.full, variants.bare];
  const usage = (name: VariantName) => {
    const pid = variants[name].service.pid;
    return { cpu: processCpuMicros(pid), calls: processSystemCalls(pid) };
  };
  const tally = () => ({
    requests: 0,
    errors: 0,
    ticksAtCap: 0,
    firstError: undefined as string | undefined,
  });
  const before = { bare: usage("bare"), full: usage("full") };
  const served = { bare: tally(), full: tally() };
  let turns = 0;
  for (let elapsed = 0; elapsed < BLOCK_MS; elapsed += 2 * SWITCH_MS) {
    for (const variant of order) {
      const load = await runAtFixedRate(
        variant.send,
        RATE,
        { maxMs: SWITCH_MS, maxRequests: 1_000_000 },
        signal,
      );
      const counts = served[variant.name];
      counts.requests += load.requests;
      counts.errors += load.errors;
      counts.ticksAtCap += load.ticksAtCap;
      counts.firstError ??= load.firstError;
    }
    turns++;
  }
  if (settle) await sleep(SETTLE_MS);
  // Every turn starts RATE × SWITCH_MS requests, but for the last tick's share.
  const offered = turns * Math.floor((RATE * SWITCH_MS) / 1000);
  const loadOf = (name: VariantName): Load => {
    const after = usage(name);
    const counts = served[name];
    return {
      cpuMicrosPerRequest: (after.cpu - before[name].cpu) / counts.requests,
      systemCallsPerRequest: (after.calls - before[name].calls) / counts.requests,
      requests: counts.requests,
      rateHeld: counts.ticksAtCap === 0 && counts.requests >= offered * 0.97,
      errors: counts.errors,
      firstError: counts.firstError,
    };
  };
  return { bare: loadOf("bare"), full: loadOf("full") };
}

/** Events in the full variant's stream once its queue drained: one per request. */
async function countEvents(nc: NatsConnection, expected: number): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const deadline = Date.now() + COUNT_DEADLINE_MS;
  let messages = 0;
  while (Date.now() < deadline) {
    messages = (await jsm.streams.info(EVENT_STREAM)).state.messages;
    if (messages >= expected) break;
    await sleep(100);
  }
  return messages;
}

function report(
  blocks: readonly Block[],
  spans: { received: number; expected: number },
  events: { stored: number; expected: number },
): boolean {
  console.log(
    `\n${ROUNDS} rounds, blocks of ${BLOCK_MS} ms, turns of ${SWITCH_MS} ms, at ${RATE} req/s (open loop); service CPU µs per request:`,
  );
  blocks.forEach((block, index) => {
    const held = block.bare.rateHeld && block.full.rateHeld ? "" : "  RATE NOT HELD";
    console.log(
      `block ${String(index + 1).padStart(2)}  bare ${block.bare.cpuMicrosPerRequest.toFixed(0).padStart(4)}` +
        `  full ${block.full.cpuMicrosPerRequest.toFixed(0).padStart(4)}` +
        `  difference ${(block.full.cpuMicrosPerRequest - block.bare.cpuMicrosPerRequest).toFixed(0).padStart(4)}${held}`,
    );
  });
  const differences = blocks.map((block) => block.full.cpuMicrosPerRequest - block.bare.cpuMicrosPerRequest);
  const added = median(differences);
  const mean = differences.reduce((sum, value) => sum + value, 0) / differences.length;
  const spread = Math.sqrt(
    differences.reduce((sum, value) => sum + (value - mean) ** 2, 0) / Math.max(1, differences.length - 1),
  );
  const standardError = spread / Math.sqrt(differences.length);
  // The same build costs 1.5–2× more per request on a slower VM, and the difference with it: its
  // share of the bare service's CPU is what compares across machines.
  const share = median(blocks.map((block, index) => differences[index]! / block.bare.cpuMicrosPerRequest));
  const bare = median(blocks.map((block) => block.bare.cpuMicrosPerRequest));
  const full = median(blocks.map((block) => block.full.cpuMicrosPerRequest));
  const calls = {
    bare: median(blocks.map((block) => block.bare.systemCallsPerRequest)),
    full: median(blocks.map((block) => block.full.systemCallsPerRequest)),
  };
  const loads = blocks.flatMap((block) => [block.bare, block.full]);
  const errors = loads.reduce((sum, load) => sum + load.errors, 0);
  const allHeld = loads.every((load) => load.rateHeld);
  const complete = spans.received >= spans.expected && events.stored >= events.expected;
  console.log(
    `\nmedians: bare ${bare.toFixed(0)} µs, full ${full.toFixed(0)} µs per request` +
      `; system calls per request: bare ${calls.bare.toFixed(2)}, full ${calls.full.toFixed(2)}` +
      `\nspans exported ${spans.received}/${spans.expected}, events stored ${events.stored}/${events.expected}` +
      `, errors ${errors}${errors > 0 ? ` (first: ${loads.find((load) => load.firstError)?.firstError})` : ""}` +
      `\nmean of the blocks' differences ${mean.toFixed(0)} ± ${standardError.toFixed(0)} µs (standard error)` +
      `; ${(share * 100).toFixed(1)} % of the bare service's CPU (median of the blocks' shares)` +
      (BASELINE
        ? `\nthis build (full) − baseline (bare, ${BASELINE_NAME}): ${added.toFixed(0)} µs CPU per request (median)`
        : `\nevents + telemetry add ${added.toFixed(0)} µs CPU per request (median of the blocks' differences)` +
          `   target ≤ ${TARGET_US} µs   `) +
      (!allHeld || errors > 0 || !complete
        ? "   INVALID (see above)"
        : BASELINE
          ? ""
          : FULL !== "both"
            ? `(${FULL} alone: no verdict)`
            : added <= TARGET_US
              ? "PASS"
              : "MISS"),
  );
  console.log(
    JSON.stringify({
      bench: "telemetry-cost",
      full: FULL,
      baseline: BASELINE ? BASELINE_NAME : null,
      pinned: PIN,
      rate: RATE,
      rounds: ROUNDS,
      block_ms: BLOCK_MS,
      switch_ms: SWITCH_MS,
      blocks: blocks.map((block) => [
        Math.round(block.bare.cpuMicrosPerRequest),
        Math.round(block.full.cpuMicrosPerRequest),
      ]),
      added_us: Math.round(added),
      mean_us: Math.round(mean),
      standard_error_us: Math.round(standardError),
      added_share: Math.round(share * 1000) / 1000,
      system_calls_per_request: calls,
      spans,
      events,
      errors,
    }),
  );
  return allHeld && errors === 0 && complete && (BASELINE || (FULL === "both" && added <= TARGET_US));
}

/**
 * A round's two instances, started and warmed up. Whichever instance starts first costs more per
 * request for as long as it runs (with the same build in both places: 20–40 µs, the sign following
 * the start order), so the rounds take turns at starting first.
 */
async function startRound(
  round: number,
  tempDir: string,
  upstreamBaseUrl: string,
  otlpUrl: string,
  release: (step: () => Promise<unknown>) => void,
  signal: AbortSignal,
): Promise<Record<VariantName, Variant>> {
  const order: VariantName[] = round % 2 === 0 ? ["bare", "full"] : ["full", "bare"];
  const started: Partial<Record<VariantName, Variant>> = {};
  for (const name of order)
    started[name] = await startVariant(name, tempDir, upstreamBaseUrl, otlpUrl, release);
  const variants = started as Record<VariantName, Variant>;
  progress(`round ${round + 1}: warm-up, ${WARMUP_MS} ms each (half at ${RATE / 8}, half at ${RATE} req/s)`);
  for (const name of order) {
    // Gently first: a cold instance taken straight to the full rate stalls, and its requests pile
    // up; measured, an instance started so kept a higher and more erratic cost for the whole
    // round (the rounds' spread doubled), as if what was promoted then kept promoting more.
    await runAtFixedRate(
      variants[name].send,
      RATE / 8,
      { maxMs: WARMUP_MS / 2, maxRequests: 1_000_000 },
      signal,
    );
    const warmUp = await runAtFixedRate(
      variants[name].send,
      RATE,
      { maxMs: WARMUP_MS / 2, maxRequests: 1_000_000 },
      signal,
    );
    // A cold service may stall long enough to refuse some (`busy`); only the blocks must be clean.
    if (warmUp.errors > 0)
      progress(`${name}: ${warmUp.errors} warm-up requests refused (first: ${warmUp.firstError})`);
  }
  return variants;
}

async function main(): Promise<number> {
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort(new Error("interrupted")));
  const releases: (() => Promise<unknown>)[] = [];
  const release = (step: () => Promise<unknown>) => void releases.push(step);
  try {
    progress(
      "starting the fake upstream and the OTLP receiver; each round, two nats-servers and two services",
    );
    pin(process.pid, OTHER_CPUS);
    const tempDir = await mkdtemp(join(tmpdir(), "llm-provider-bench-telemetry-"));
    release(() => rm(tempDir, { recursive: true, force: true }));
    const child = (name: string, file: string) => {
      const handle = spawnBenchChild(name, file);
      release(() => handle.stop());
      pin(handle.pid, OTHER_CPUS);
      return handle;
    };
    const upstream = child("fake upstream", "fake-upstream-process.ts");
    const receiver = child("OTLP receiver", "otlp-receiver-process.ts");
    const { baseUrl } = JSON.parse(await upstream.firstLine) as { baseUrl: string };
    const { url: otlpUrl } = JSON.parse(await receiver.firstLine) as { url: string };
    const blocks: Block[] = [];
    let expectedSpans = 0;
    const events = { expected: 0, stored: 0 };
    let lastFull: Variant | undefined;
    for (let round = 0; round < ROUNDS; round++) {
      const roundReleases: (() => Promise<unknown>)[] = [];
      try {
        const variants = await startRound(
          round,
          tempDir,
          baseUrl,
          otlpUrl,
          (step) => void roundReleases.push(step),
          controller.signal,
        );
        const count = Math.ceil(BLOCKS / ROUNDS);
        progress(
          `round ${round + 1}/${ROUNDS}: ${count} blocks of ${BLOCK_MS} ms, the variants taking turns every ${SWITCH_MS} ms`,
        );
        for (let index = 0; index < count; index++) {
          const first = index % 2 === 0 ? "bare" : "full";
          blocks.push(await measureBlock(variants, first, index === count - 1, controller.signal));
        }
        // Before the round's services stop: their events are in their own nats-server.
        for (const name of ["bare", "full"] as const) {
          const variant = variants[name];
          if (hasTelemetry(name)) expectedSpans += variant.answered * SPANS_PER_REQUEST;
          if (hasEvents(name)) {
            events.expected += variant.answered;
            events.stored += await countEvents(variant.nc, variant.answered);
          }
        }
        lastFull = variants.full;
      } finally {
        // Stopping a service flushes its last spans to the receiver.
        for (const step of roundReleases.reverse()) {
          await step().catch((error: unknown) => progress(`clean-up failed: ${String(error)}`));
        }
      }
    }
    const spans = {
      expected: expectedSpans,
      received: await waitForSpans(otlpUrl, expectedSpans, COUNT_DEADLINE_MS),
    };
    if (spans.received < spans.expected || events.stored < events.expected)
      progress(`incomplete; the full variant's last output:\n${lastFull?.service.outputTail()}`);
    return report(blocks, spans, events) ? 0 : 1;
  } catch (error) {
    progress(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 1;
  } finally {
    for (const step of releases.reverse()) {
      await step().catch((error: unknown) => progress(`clean-up failed: ${String(error)}`));
    }
  }
}

process.exit(await main());
