// Benchmark of issue #5 — `npm run bench:embeddings` (never part of `npm test`/CI).
//
// Starts a nats-server, the fake OpenAI upstream and a bare NATS echo responder (each its own
// process) and the built service with its embedding cache, then measures at concurrency 1:
//   - the NATS request/reply floor (echo responder),
//   - a cache hit of one 1536-dimension vector (text-embedding-3-large shortened), as JSON floats
//     and as base64,
//   - the upstream call for 128 new texts over HTTP (the body the service sends for them),
//   - a 256-item batch through the service, half cached and half new (interleaved),
//   - a 256-item batch all cached, for reference.
// Prints latencies and the service's CPU per request, the two targets, then one JSON line.
// Environment: BENCH_WARMUP_MS, BENCH_MEASURE_MS (phase bounds), BENCH_PHASES (comma-separated
// parts of phase labels: only those run), BENCH_PROFILE_DIR (the service writes a V8 CPU profile
// there; where each measured phase's CPU went is printed at the end, BENCH_PROFILE_TOP entries
// per list).
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { decodeReply, EmbeddingResultSchema, SUBJECTS } from "@llm-provider/contracts";
import type { GenerateEmbeddingInput } from "@llm-provider/contracts";
import { request as httpRequest } from "undici";
import { decodeFloat32Base64 } from "../../services/llm-provider/src/domain/embedding-vector.js";
import { createHttpDispatcher } from "../../services/llm-provider/src/infra/http/undici-fetch.js";
import { fakeEmbedding } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import { waitForService } from "./service-ready.js";
import { spawnBenchChild, spawnNode } from "./child-process.js";
import type { ChildHandle } from "./child-process.js";
import { runClosedLoop, summarizeLatencies } from "./closed-loop.js";
import type { LoadBounds, SendRequest } from "./closed-loop.js";
import {
  BATCH_DIMENSIONS,
  BATCH_SIZE,
  batchRequest,
  benchEmbeddingConfig,
  CACHED_HALF,
  chunkText,
  hitRequest,
  upstreamBatchBody,
} from "./embedding-bench-config.js";
import { bucketWritesSender } from "./embedding-bucket-writes.js";
import { PHASE, report } from "./embedding-report.js";
import type { PhaseResult } from "./embedding-report.js";
import { formatProfile, summarizeCpuProfile } from "./cpu-profile.js";
import type { TimeWindow } from "./cpu-profile.js";
import { cpuMicrosPerRequest, snapshotCpu } from "./proc-stats.js";
import { serviceEnvironment, serviceNodeFlags, writeServiceConfig } from "./service-config.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SERVICE_ENTRY = join(ROOT, "services/llm-provider/dist/main.js");
const ECHO_SUBJECT = "bench.echo.embeddings";
const REQUEST_TIMEOUT_MS = 10_000;
const SERVICE_STOP_GRACE_MS = 10_000;
const PROFILE_TOP_ENTRIES = Number(process.env["BENCH_PROFILE_TOP"] ?? 25);

const progress = (text: string): void => void process.stderr.write(`[bench:embeddings] ${text}\n`);
const encoder = new TextEncoder();

function readBounds(): { warmup: LoadBounds; measure: LoadBounds } {
  const milliseconds = (name: string, fallback: number): number => {
    const value = Number(process.env[name]);
    return Number.isFinite(value) && value > 0 ? value : fallback;
  };
  return {
    warmup: { maxMs: milliseconds("BENCH_WARMUP_MS", 2_000), maxRequests: 2_000 },
    measure: { maxMs: milliseconds("BENCH_MEASURE_MS", 5_000), maxRequests: 100_000 },
  };
}

function serviceSender(nc: NatsConnection, body: () => GenerateEmbeddingInput): SendRequest {
  return async () => {
    const reply = await nc.request(SUBJECTS.generateEmbedding, encoder.encode(JSON.stringify(body())), {
      timeout: REQUEST_TIMEOUT_MS,
    });
    const code = reply.headers?.get("Nats-Service-Error-Code");
    if (code) throw new Error(`service error ${code}: ${reply.string().slice(0, 300)}`);
  };
}

/** The same micro service, an endpoint that does almost nothing: what any request costs. */
function listModelsSender(nc: NatsConnection): SendRequest {
  return async () => {
    const reply = await nc.request(SUBJECTS.listModels, "", { timeout: REQUEST_TIMEOUT_MS });
    if (reply.headers?.get("Nats-Service-Error-Code")) throw new Error(reply.string().slice(0, 300));
  };
}

/** Every call embeds texts never seen before. */
let freshCounter = 0;
const freshTexts = (count: number): string[] =>
  Array.from({ length: count }, () => chunkText(`fresh-${freshCounter++}`));

/** Half cached, half new, interleaved: the service must merge them back in input order. */
function halfCachedBatch(): string[] {
  const fresh = freshTexts(BATCH_SIZE / 2);
  return CACHED_HALF.flatMap((cached, index) => [cached, fresh[index]!]);
}

async function startProcesses(release: (step: () => Promise<unknown>) => void) {
  const tempDir = await mkdtemp(join(tmpdir(), "llm-provider-bench-embeddings-"));
  release(() => rm(tempDir, { recursive: true, force: true }));
  const tsChild = (name: string, file: string, args: string[] = []): ChildHandle => {
    const child = spawnBenchChild(name, file, args);
    release(() => child.stop());
    return child;
  };
  const upstream = tsChild("fake upstream", "fake-upstream-process.ts");
  const nats = await startNatsServer();
  release(() => nats.stop());
  const { baseUrl } = JSON.parse(await upstream.firstLine) as { baseUrl: string };
  const echo = tsChild("echo responder", "echo-responder-process.ts", [nats.url, ECHO_SUBJECT]);
  const configPath = await writeServiceConfig(tempDir, benchEmbeddingConfig(nats.url, baseUrl));
  // BENCH_PROFILE_DIR: the service writes a V8 CPU profile there when it stops.
  const profileDir = process.env["BENCH_PROFILE_DIR"];
  const profileFlags = profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : [];
  const service = spawnNode(
    "llm-provider",
    [...serviceNodeFlags(), ...profileFlags, SERVICE_ENTRY, "--config", configPath],
    {
      cwd: ROOT,
      env: serviceEnvironment(),
    },
  );
  release(() => service.stop());
  const stopService = () => service.stop(SERVICE_STOP_GRACE_MS);
  const nc = await connect({ servers: nats.url, name: "bench-embeddings-load", reconnect: false });
  release(() => nc.close());
  await echo.firstLine;
  await waitForService(nc, service);
  const pids = new Map([
    ["service", service.pid],
    ["nats-server", nats.pid],
    ["upstream", upstream.pid],
  ]);
  return { nc, baseUrl, pids, profileDir, stopService };
}

const monotonicMicros = (): number => Number(process.hrtime.bigint() / 1000n);

/** Phases BENCH_PHASES names (by a part of their label), or all. */
function selectedPhases<T>(phases: readonly [string, T][]): [string, T][] {
  const parts = (process.env["BENCH_PHASES"] ?? "")
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
  if (parts.length === 0) return [...phases];
  return phases.filter(([label]) => parts.some((part) => label.includes(part)));
}

/** Stops the service (it writes its profile on exit) and prints where its CPU went in each phase. */
async function reportProfile(
  profileDir: string,
  stopService: () => Promise<void>,
  windows: readonly { label: string; window: TimeWindow }[],
): Promise<void> {
  await stopService();
  const file = (await readdir(profileDir)).find((name) => name.endsWith(".cpuprofile"));
  if (!file) {
    progress(`no .cpuprofile in ${profileDir}`);
    return;
  }
  const path = join(profileDir, file);
  const lines = [``, `service CPU profile: ${path} (kept; open it in Chrome DevTools)`];
  for (const { label, window } of windows) {
    const summary = await summarizeCpuProfile(path, [window], PROFILE_TOP_ENTRIES);
    lines.push(...formatProfile(summary, `${label}, measured phase`));
  }
  for (const line of lines) process.stdout.write(`${line}\n`);
}

/** Fills the cache and checks one reply of each kind in full (the load loop checks only for errors). */
async function warmAndCheck(nc: NatsConnection): Promise<void> {
  const call = async (body: GenerateEmbeddingInput) =>
    decodeReply(
      await nc.request(SUBJECTS.generateEmbedding, JSON.stringify(body), { timeout: REQUEST_TIMEOUT_MS }),
      EmbeddingResultSchema,
    );
  await call(hitRequest("float"));
  await call(batchRequest(CACHED_HALF));
  const hit = await call(hitRequest("base64"));
  const batch = await call(batchRequest(halfCachedBatch()));
  const cached = batch.data.filter((item) => item.cached).length;
  const first = batch.data[0]!;
  const expected = Array.from(fakeEmbedding(CACHED_HALF[0]!, BATCH_DIMENSIONS));
  if (!hit.data[0]!.cached || cached !== BATCH_SIZE / 2 || first.dimensions !== BATCH_DIMENSIONS) {
    throw new Error(
      `unexpected replies: hit cached ${hit.data[0]!.cached}, batch cached ${cached}/${BATCH_SIZE}`,
    );
  }
  if (
    Array.from(decodeFloat32Base64(first.embedding as string)).some(
      (value, index) => value !== expected[index],
    )
  ) {
    throw new Error("a cached vector differs from the upstream's");
  }
}

async function measure(
  label: string,
  send: SendRequest,
  pids: ReadonlyMap<string, number>,
  bounds: ReturnType<typeof readBounds>,
  signal: AbortSignal,
): Promise<PhaseResult & { window: TimeWindow }> {
  progress(`${label}: warm-up, then measuring`);
  await runClosedLoop(send, 1, bounds.warmup, signal);
  const before = snapshotCpu(pids);
  const startUs = monotonicMicros();
  const load = await runClosedLoop(send, 1, bounds.measure, signal);
  const window = { startUs, endUs: monotonicMicros() };
  const after = snapshotCpu(pids);
  return {
    window,
    label,
    requests: load.requests,
    errors: load.errors,
    firstError: load.firstError,
    latencyMs: summarizeLatencies(load.latenciesMs),
    cpuMicrosPerRequest: cpuMicrosPerRequest(before, after, load.requests),
  };
}

async function main(): Promise<number> {
  const bounds = readBounds();
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort(new Error("interrupted")));
  const releases: (() => Promise<unknown>)[] = [];
  try {
    progress("starting nats-server, fake upstream, echo responder and the service");
    const { nc, baseUrl, pids, profileDir, stopService } = await startProcesses((step) =>
      releases.push(step),
    );
    await warmAndCheck(nc);
    const agent = createHttpDispatcher(); // the pool the service uses, so the HTTP floor is fair
    releases.push(() => agent.close());
    const upstreamUrl = `${baseUrl}/embeddings`;
    const bucketWrites = await bucketWritesSender(nc);
    const senders: [string, SendRequest][] = [
      [PHASE.echo, async () => void (await nc.request(ECHO_SUBJECT, "", { timeout: REQUEST_TIMEOUT_MS }))],
      [PHASE.floor, listModelsSender(nc)],
      [PHASE.hitFloats, serviceSender(nc, () => hitRequest("float"))],
      [PHASE.hitBase64, serviceSender(nc, () => hitRequest("base64"))],
      [
        `${PHASE.upstream} (${BATCH_DIMENSIONS} dims)`,
        async () => {
          const response = await httpRequest(upstreamUrl, {
            dispatcher: agent,
            method: "POST",
            headers: { "content-type": "application/json", authorization: "Bearer sk-bench" },
            body: upstreamBatchBody(freshTexts(BATCH_SIZE / 2)),
          });
          await response.body.arrayBuffer();
          if (response.statusCode !== 200) throw new Error(`HTTP ${response.statusCode}`);
        },
      ],
      [PHASE.bucketWrites, bucketWrites],
      [
        `${PHASE.halfCached} (base64, ${BATCH_DIMENSIONS} dims)`,
        serviceSender(nc, () => batchRequest(halfCachedBatch())),
      ],
      [
        `${PHASE.allCached} (base64, ${BATCH_DIMENSIONS} dims)`,
        serviceSender(nc, () => batchRequest([...CACHED_HALF, ...CACHED_HALF.map((text) => `${text} (2)`)])),
      ],
    ];
    const phases: (PhaseResult & { window: TimeWindow })[] = [];
    for (const [label, send] of selectedPhases(senders))
      phases.push(await measure(label, send, pids, bounds, controller.signal));
    const passed = report(phases);
    if (profileDir) await reportProfile(profileDir, stopService, phases);
    return passed ? 0 : 1;
  } catch (error) {
    progress(`failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    for (const release of releases.reverse()) {
      await release().catch((error: unknown) => progress(`clean-up failed: ${String(error)}`));
    }
  }
}

process.exit(await main());
