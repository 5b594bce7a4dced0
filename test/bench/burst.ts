// Burst shedding benchmark — `npm run bench:burst` (never part of `npm test`/CI).
//
// Is `busy` answered at once, or only after the work it refuses? Starts a nats-server (JetStream
// on), the fake OpenAI upstream in its own process holding every request BENCH_UPSTREAM_DELAY_MS
// (so the admitted requests stay in flight), an OTLP receiver, and the built service with the
// production start command, events on and max_in_flight at its default. Then, in each of
// BENCH_ROUNDS rounds, sends BENCH_BURST complete_chat requests at once, from one connection and
// then spread over BENCH_CONNECTIONS connections, and prints per outcome (busy, served) the
// latency from each request's send to its reply: p50/p90/p99/max, the counts, and when the last
// busy arrived after the burst began. Each round also sends the burst to a bare Node responder
// (echo-responder-process.ts) that answers every request at once: the floor of this machine's
// NATS request/reply for such a burst, which a `busy` answered at once comes close to.
//
// Environment: BENCH_ROUNDS (default 3), BENCH_BURST (3000), BENCH_CONNECTIONS (4), BENCH_FLOOR=off,
// BENCH_UPSTREAM_DELAY_MS (2000), BENCH_TELEMETRY=off, BENCH_PROFILE=1 (the service runs under
// `--cpu-prof`; prints where its CPU went during the bursts), BENCH_SERVICE_NODE_FLAGS,
// BENCH_SERVICE_ENTRY (another build of the service).
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import { createInbox } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { SUBJECTS } from "@llm-provider/contracts";
import { startNatsServer } from "../harness/nats-server.js";
import { spawnBenchChild, spawnNode, type ChildHandle } from "./child-process.js";
import { formatProfile, summarizeCpuProfile, type TimeWindow } from "./cpu-profile.js";
import { COMPLETE_CHAT_REQUEST } from "./payloads.js";
import {
  benchServiceConfig,
  serviceEnvironment,
  serviceNodeFlags,
  writeServiceConfig,
} from "./service-config.js";
import { waitForService } from "./service-ready.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SERVICE_ENTRY = process.env["BENCH_SERVICE_ENTRY"] ?? join(ROOT, "services/llm-provider/dist/main.js");
const positive = (name: string, fallback: number): number => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? Math.round(value) : fallback;
};
const ROUNDS = positive("BENCH_ROUNDS", 3);
const BURST = positive("BENCH_BURST", 3_000);
const CONNECTIONS = positive("BENCH_CONNECTIONS", 4);
const UPSTREAM_DELAY_MS = positive("BENCH_UPSTREAM_DELAY_MS", 2_000);
const TELEMETRY = process.env["BENCH_TELEMETRY"] !== "off";
const PROFILE = process.env["BENCH_PROFILE"] === "1";
const FLOOR = process.env["BENCH_FLOOR"] !== "off";
const FLOOR_SUBJECT = "bench.burst.floor";
/** Every reply is due well within this: the upstream's hold plus the service's own timeouts. */
const BURST_DEADLINE_MS = UPSTREAM_DELAY_MS + 30_000;
const WARMUP_REQUESTS = 200;
const SERVICE_STOP_GRACE_MS = 10_000;
const ERROR_CODE_HEADER = "Nats-Service-Error-Code";

const progress = (text: string): void => void process.stderr.write(`[bench:burst] ${text}\n`);
const monotonicMicros = (): number => Number(process.hrtime.bigint() / 1000n);

/** `served`, or the error code of the reply (`busy` among them). */
type Outcome = string;

interface BurstResult {
  round: number;
  target: string;
  connections: number;
  /** Latencies (ms from the request's send to its reply) by outcome. */
  latencies: Map<Outcome, number[]>;
  missing: number;
  duplicates: number;
  /** ms from the first send to the last send. */
  sendMs: number;
  /** ms from the first send to the last busy reply. */
  lastBusyMs: number | undefined;
  window: TimeWindow;
}

/** What a reply says: served, or the error code of its body (`busy` among them). */
function outcomeOf(msg: Msg): Outcome {
  if (!msg.headers?.get(ERROR_CODE_HEADER)) return "served";
  try {
    const body = msg.json<{ error?: { code?: string } }>();
    return body.error?.code ?? "error (no code)";
  } catch {
    return "error (unreadable body)";
  }
}

/**
 * Sends `count` requests as fast as the client takes them, round robin over `connections`, each
 * with a reply subject of its own so that every reply is timed by the subscription callback
 * (synchronous, on arrival) and matched to its send.
 */
async function burst(
  connections: NatsConnection[],
  count: number,
  round: number,
  subject: string = SUBJECTS.completeChat,
): Promise<BurstResult> {
  const body = new TextEncoder().encode(JSON.stringify(COMPLETE_CHAT_REQUEST));
  const sentAt = new Float64Array(count);
  const outcomes = new Array<Outcome | undefined>(count);
  const latencies = new Map<Outcome, number[]>();
  let replies = 0;
  let duplicates = 0;
  let lastBusyAt = 0;
  let allReplied!: () => void;
  const done = new Promise<void>((resolve) => (allReplied = resolve));

  const inboxes = connections.map((nc) => {
    const inbox = createInbox();
    const subscription = nc.subscribe(`${inbox}.*`, {
      callback: (_error, msg) => {
        const arrived = performance.now();
        const index = Number(msg.subject.slice(inbox.length + 1));
        if (outcomes[index] !== undefined) {
          duplicates++;
          return;
        }
        const outcome = outcomeOf(msg);
        outcomes[index] = outcome;
        let list = latencies.get(outcome);
        if (!list) latencies.set(outcome, (list = []));
        list.push(arrived - sentAt[index]!);
        if (outcome === "busy") lastBusyAt = Math.max(lastBusyAt, arrived);
        if (++replies === count) allReplied();
      },
    });
    return { nc, inbox, subscription };
  });
  // The subscriptions exist at the server before the first request is sent.
  await Promise.all(connections.map((nc) => nc.flush()));

  const startUs = monotonicMicros();
  const firstSend = performance.now();
  for (let index = 0; index < count; index++) {
    const { nc, inbox } = inboxes[index % inboxes.length]!;
    sentAt[index] = performance.now();
    nc.publish(subject, body, { reply: `${inbox}.${index}` });
  }
  const lastSend = performance.now();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    done,
    new Promise<void>((resolve) => (timer = setTimeout(resolve, BURST_DEADLINE_MS))),
  ]);
  clearTimeout(timer);
  // The profile looks at the shedding: from the first send until the last busy reply.
  const endUs = lastBusyAt > 0 ? startUs + Math.round((lastBusyAt - firstSend) * 1000) : monotonicMicros();
  const window = { startUs, endUs };
  for (const { subscription } of inboxes) subscription.unsubscribe();
  return {
    round,
    target: subject === SUBJECTS.completeChat ? "service" : "floor (bare responder)",
    connections: connections.length,
    latencies,
    missing: count - replies,
    duplicates,
    sendMs: lastSend - firstSend,
    lastBusyMs: lastBusyAt > 0 ? lastBusyAt - firstSend : undefined,
    window,
  };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

const ms = (value: number | undefined): string => (value === undefined ? "-" : value.toFixed(1));

function formatBurst(result: BurstResult): string[] {
  const lines = [
    `round ${result.round}, ${result.target}, ${result.connections} connection${result.connections === 1 ? "" : "s"}: ` +
      `sent in ${ms(result.sendMs)} ms; ` +
      (result.lastBusyMs === undefined
        ? ""
        : `last busy ${ms(result.lastBusyMs)} ms after the first send; `) +
      `missing ${result.missing}, duplicates ${result.duplicates}`,
  ];
  const order = [...result.latencies.keys()].sort((a, b) =>
    a === "busy" ? -1 : b === "busy" ? 1 : a === "served" ? -1 : b === "served" ? 1 : a.localeCompare(b),
  );
  for (const outcome of order) {
    const sorted = [...result.latencies.get(outcome)!].sort((a, b) => a - b);
    lines.push(
      `  ${outcome.padEnd(8)} ${String(sorted.length).padStart(5)}  min ${ms(sorted[0]).padStart(7)}  ` +
        `p50 ${ms(percentile(sorted, 50)).padStart(7)}  p90 ${ms(percentile(sorted, 90)).padStart(7)}  ` +
        `p99 ${ms(percentile(sorted, 99)).padStart(7)}  max ${ms(sorted.at(-1)).padStart(7)}  ms`,
    );
  }
  return lines;
}

/** Started processes and connections, released last first. */
const releases: { name: string; release: () => Promise<unknown> }[] = [];
async function releaseAll(): Promise<void> {
  for (let step = releases.pop(); step; step = releases.pop()) {
    await step
      .release()
      .catch((error: unknown) => progress(`clean-up of ${step.name} failed: ${String(error)}`));
  }
}
function owned(child: ChildHandle, graceMs?: number): ChildHandle {
  releases.push({ name: child.name, release: () => child.stop(graceMs) });
  return child;
}

/** Where the service's CPU went during the bursts, from the profile it wrote on exit. */
async function reportProfile(profileDir: string, results: BurstResult[]): Promise<void> {
  const file = (await readdir(profileDir)).find((name) => name.endsWith(".cpuprofile"));
  if (!file) return;
  const path = join(profileDir, file);
  const summary = await summarizeCpuProfile(
    path,
    results.map((result) => result.window),
    Number(process.env["BENCH_PROFILE_TOP"] ?? 25),
  );
  process.stdout.write(`\nservice CPU profile: ${path} (kept)\n`);
  for (const line of formatProfile(summary, "service during the bursts")) process.stdout.write(`${line}\n`);
}

async function main(): Promise<void> {
  const tempDir = await mkdtemp(join(tmpdir(), "llm-provider-bench-burst-"));
  releases.push({ name: "temp dir", release: () => rm(tempDir, { recursive: true, force: true }) });
  const upstream = owned(
    spawnBenchChild("fake upstream", "fake-upstream-process.ts", [], {
      ...process.env,
      BENCH_UPSTREAM_DELAY_MS: String(UPSTREAM_DELAY_MS),
    }),
  );
  const receiver = TELEMETRY
    ? owned(spawnBenchChild("OTLP receiver", "otlp-receiver-process.ts"))
    : undefined;
  const nats = await startNatsServer();
  releases.push({ name: "nats-server", release: () => nats.stop() });
  const floor = FLOOR
    ? owned(spawnBenchChild("echo responder", "echo-responder-process.ts", [nats.url, FLOOR_SUBJECT]))
    : undefined;
  const { baseUrl } = JSON.parse(await upstream.firstLine) as { baseUrl: string };

  const config = benchServiceConfig(nats.url, baseUrl); // events on, service.max_in_flight at its default
  const env = serviceEnvironment();
  if (receiver) {
    const { url } = JSON.parse(await receiver.firstLine) as { url: string };
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = url;
    env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
  }
  const profileDir = PROFILE ? await mkdtemp(join(tmpdir(), "llm-provider-bench-burst-profile-")) : undefined;
  const profileFlags = profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : [];
  const configPath = await writeServiceConfig(tempDir, config);
  const service = owned(
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

  const connections: NatsConnection[] = [];
  for (let index = 0; index < CONNECTIONS; index++) {
    const nc = await connect({ servers: nats.url, name: `bench-burst-${index}`, reconnect: false });
    releases.push({ name: `connection ${index}`, release: () => nc.close() });
    connections.push(nc);
  }
  await waitForService(connections[0]!, service);
  await floor?.firstLine;

  // The service's warm-up stays under its bound: round 1 shows a worker's first shedding. The
  // bench's own client and the server are warmed with a full burst to the bare responder.
  progress(`warm-up: a burst of ${WARMUP_REQUESTS} to the service`);
  await burst(connections.slice(0, 1), WARMUP_REQUESTS, 0);
  if (floor) await burst(connections, BURST, 0, FLOOR_SUBJECT);

  progress(
    `${ROUNDS} rounds of ${BURST} requests at once; upstream holds each ${UPSTREAM_DELAY_MS} ms; ` +
      `telemetry ${TELEMETRY ? "exported" : "off"}`,
  );
  const results: BurstResult[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    if (floor) {
      const result = await burst(connections.slice(0, 1), BURST, round, FLOOR_SUBJECT);
      for (const line of formatBurst(result)) process.stdout.write(`${line}\n`);
    }
    for (const split of CONNECTIONS > 1 ? [1, CONNECTIONS] : [1]) {
      progress(`round ${round}: ${split} connection(s)`);
      const result = await burst(connections.slice(0, split), BURST, round);
      results.push(result);
      for (const line of formatBurst(result)) process.stdout.write(`${line}\n`);
    }
  }

  const stderr = service.stderrTail().trim();
  if (profileDir) {
    await service.stop(SERVICE_STOP_GRACE_MS);
    await reportProfile(profileDir, results);
  }
  if (stderr) process.stdout.write(`\nthe service wrote to stderr:\n${stderr}\n`);
  if (results.some((result) => result.missing > 0 || result.duplicates > 0)) process.exitCode = 1;
}

try {
  await main();
} catch (error) {
  progress(`failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await releaseAll();
}
process.exit();
