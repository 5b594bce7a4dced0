// What events and telemetry export cost together (issue #6) — `npm run bench:telemetry-cost`.
//
// Two instances of the built service run side by side, each on a nats-server of its own, both
// calling the same fake upstream:
//   - "bare": events off, OpenTelemetry off;
//   - "full": events on (JetStream, acknowledged) and OTLP/HTTP export of traces and metrics to
//     a local receiver in its own process.
// The load generator drives them in turns, BENCH_SLICES slices (default 12) of BENCH_SLICE_MS
// (default 2000 ms) each, the order alternating (bare·full, full·bare, …), every slice at one
// fixed rate (BENCH_RATE, default 800 req/s, open loop), and reads the CPU time of the instance it
// loads, until SETTLE_MS after its last request. The verdict is the median over neighbouring
// pairs of slices of (full − bare). Beside it, the system calls (reads + writes) per request of each:
// a count that does not drift, and on this VM each socket call costs tens of µs.
//
// Why so: this VM's speed drifts over tens of seconds, by more than the quantity measured.
// Variants measured minutes apart (as two runs of run.ts are) differ by that drift; slices seconds
// apart share it. And at one fixed rate both variants handle the same number of requests per
// event-loop turn; at saturation (closed loop) the slower variant would also batch less per turn,
// and that would be counted as a cost of events and telemetry.
//
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
/** After a slice's last request: its events' acks and last span export land in its own figure. */
const SETTLE_MS = 500;
const EVENT_STREAM = "LLM_PROVIDER_EVENTS";

const positive = (name: string, fallback: number): number => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const SLICES = positive("BENCH_SLICES", 12);
const SLICE_MS = positive("BENCH_SLICE_MS", 2_000);
const RATE = positive("BENCH_RATE", 800);
const WARMUP_MS = positive("BENCH_WARMUP_MS", 3_000);
/** BENCH_FULL=events or =telemetry prices one of the two alone (the verdict needs both). */
const FULL = (process.env["BENCH_FULL"] ?? "both") as "both" | "events" | "telemetry";
const fullHasEvents = FULL !== "telemetry";
const fullHasTelemetry = FULL !== "events";

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

interface Slice {
  variant: VariantName;
  cpuMicrosPerRequest: number;
  systemCallsPerRequest: number;
  requests: number;
  rateHeld: boolean;
  errors: number;
  firstError: string | undefined;
}

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
  if (name === "bare" || !fullHasEvents) config.events = { enabled: false };
  else if (process.env["BENCH_EVENTS_LINGER_MS"])
    config.events = { linger_ms: Number(process.env["BENCH_EVENTS_LINGER_MS"]) };
  if (name === "full" && fullHasTelemetry) {
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlpUrl;
    env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
    env["OTEL_BSP_SCHEDULE_DELAY"] = String(SPAN_EXPORT_DELAY_MS);
  }
  const dir = await mkdtemp(join(tempDir, `${name}-`));
  const configPath = await writeServiceConfig(dir, config);
  const service = spawnNode(
    `llm-provider (${name})`,
    [...serviceNodeFlags(), SERVICE_ENTRY, "--config", configPath],
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

async function measureSlice(variant: Variant, signal: AbortSignal): Promise<Slice> {
  const before = processCpuMicros(variant.service.pid);
  const callsBefore = processSystemCalls(variant.service.pid);
  const load = await runAtFixedRate(variant.send, RATE, { maxMs: SLICE_MS, maxRequests: 1_000_000 }, signal);
  await sleep(SETTLE_MS);
  const after = processCpuMicros(variant.service.pid);
  return {
    variant: variant.name,
    cpuMicrosPerRequest: (after - before) / load.requests,
    systemCallsPerRequest: (processSystemCalls(variant.service.pid) - callsBefore) / load.requests,
    requests: load.requests,
    rateHeld: load.ticksAtCap === 0 && (load.requests * 1000) / load.elapsedMs >= RATE * 0.97,
    errors: load.errors,
    firstError: load.firstError,
  };
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
  slices: readonly Slice[],
  spans: { received: number; expected: number },
  events: { stored: number; expected: number },
): boolean {
  const pairs: { bare: Slice; full: Slice }[] = [];
  for (let index = 0; index + 1 < slices.length; index += 2) {
    const [first, second] = [slices[index]!, slices[index + 1]!];
    pairs.push(first.variant === "bare" ? { bare: first, full: second } : { bare: second, full: first });
  }
  console.log(`\nslices of ${SLICE_MS} ms at ${RATE} req/s (open loop); service CPU µs per request:`);
  pairs.forEach((pair, index) => {
    const held = pair.bare.rateHeld && pair.full.rateHeld ? "" : "  RATE NOT HELD";
    console.log(
      `pair ${String(index + 1).padStart(2)}  bare ${pair.bare.cpuMicrosPerRequest.toFixed(0).padStart(4)}` +
        `  full ${pair.full.cpuMicrosPerRequest.toFixed(0).padStart(4)}` +
        `  difference ${(pair.full.cpuMicrosPerRequest - pair.bare.cpuMicrosPerRequest).toFixed(0).padStart(4)}${held}`,
    );
  });
  const added = median(pairs.map((pair) => pair.full.cpuMicrosPerRequest - pair.bare.cpuMicrosPerRequest));
  const bare = median(pairs.map((pair) => pair.bare.cpuMicrosPerRequest));
  const full = median(pairs.map((pair) => pair.full.cpuMicrosPerRequest));
  const calls = {
    bare: median(pairs.map((pair) => pair.bare.systemCallsPerRequest)),
    full: median(pairs.map((pair) => pair.full.systemCallsPerRequest)),
  };
  const errors = slices.reduce((sum, slice) => sum + slice.errors, 0);
  const allHeld = slices.every((slice) => slice.rateHeld);
  const complete = spans.received >= spans.expected && events.stored >= events.expected;
  console.log(
    `\nmedians: bare ${bare.toFixed(0)} µs, full ${full.toFixed(0)} µs per request` +
      `; system calls per request: bare ${calls.bare.toFixed(2)}, full ${calls.full.toFixed(2)}` +
      `\nspans exported ${spans.received}/${spans.expected}, events stored ${events.stored}/${events.expected}` +
      `, errors ${errors}${errors > 0 ? ` (first: ${slices.find((slice) => slice.firstError)?.firstError})` : ""}` +
      `\nevents + telemetry add ${added.toFixed(0)} µs CPU per request (median of the pairs' differences)` +
      `   target ≤ ${TARGET_US} µs   ` +
      (!allHeld || errors > 0 || !complete
        ? "INVALID (see above)"
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
      pinned: PIN,
      rate: RATE,
      slice_ms: SLICE_MS,
      pairs: pairs.map((pair) => [
        Math.round(pair.bare.cpuMicrosPerRequest),
        Math.round(pair.full.cpuMicrosPerRequest),
      ]),
      added_us: Math.round(added),
      system_calls_per_request: calls,
      spans,
      events,
      errors,
    }),
  );
  return allHeld && errors === 0 && complete && FULL === "both" && added <= TARGET_US;
}

async function main(): Promise<number> {
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort(new Error("interrupted")));
  const releases: (() => Promise<unknown>)[] = [];
  const release = (step: () => Promise<unknown>) => void releases.push(step);
  try {
    progress("starting the fake upstream, the OTLP receiver, two nats-servers and two services");
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
    const variants = {
      bare: await startVariant("bare", tempDir, baseUrl, otlpUrl, release),
      full: await startVariant("full", tempDir, baseUrl, otlpUrl, release),
    };

    progress(`warm-up: ${WARMUP_MS} ms each at ${RATE} req/s`);
    for (const variant of [variants.bare, variants.full]) {
      const warmUp = await runAtFixedRate(
        variant.send,
        RATE,
        { maxMs: WARMUP_MS, maxRequests: 1_000_000 },
        controller.signal,
      );
      // A cold service may stall long enough to refuse some (`busy`); only the slices must be clean.
      if (warmUp.errors > 0)
        progress(`${variant.name}: ${warmUp.errors} warm-up requests refused (first: ${warmUp.firstError})`);
    }

    progress(`measuring: ${SLICES} slices of ${SLICE_MS} ms each, alternating`);
    const slices: Slice[] = [];
    for (let pair = 0; pair < SLICES; pair++) {
      const order = pair % 2 === 0 ? [variants.bare, variants.full] : [variants.full, variants.bare];
      for (const variant of order) slices.push(await measureSlice(variant, controller.signal));
    }

    const expectedSpans = fullHasTelemetry ? variants.full.answered * SPANS_PER_REQUEST : 0;
    const spans = {
      expected: expectedSpans,
      received: await waitForSpans(otlpUrl, expectedSpans, COUNT_DEADLINE_MS),
    };
    const expectedEvents = fullHasEvents ? variants.full.answered : 0;
    const events = {
      expected: expectedEvents,
      stored: fullHasEvents ? await countEvents(variants.full.nc, expectedEvents) : 0,
    };
    if (spans.received < spans.expected || events.stored < events.expected)
      progress(`incomplete; the full variant's last output:\n${variants.full.service.outputTail()}`);
    return report(slices, spans, events) ? 0 : 1;
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
