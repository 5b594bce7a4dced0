// Benchmark of issue #22 point 6 — `npm run bench:jobs` (never part of `npm test`/CI).
//
// 100,000 embedding items (8 dimensions, base64) against the fake upstream in its own process,
// with two worker processes from the build, three ways side by side:
//   - a durable job: the caller publishes every item (one JetStream message each), seals the job
//     and reads every result; timed from the first publish to the last result read;
//   - request/reply: the caller sends generate_embedding batches of 256 at the concurrency the
//     job path runs at (workers × concurrent_batches);
//   - the job again, with one of the two workers SIGKILLed once the upstream has embedded half
//     the items: every item must still have exactly one result, and the upstream must not have
//     embedded more inputs twice than the killed worker could have had in flight
//     (batch_items × concurrent_batches).
// Each scenario gets a fresh nats-server and fresh workers, and texts of its own, so that no
// embedding cache makes a later one cheaper. Prints a table, the verdicts, then one JSON line.
// Environment (or arguments): BENCH_JOB_ITEMS / --items N (default 100,000), BENCH_SCENARIOS (keys
// job, request-reply, kill; comma-separated: only those run), BENCH_UPSTREAM_DELAY_MS (the upstream
// answers that much later), BENCH_PROFILE_DIR (workers write V8 CPU profiles there on exit).
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { nuid } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import { createLlmProviderClient, LlmProviderError } from "@llm-provider/contracts";
import type { LlmProviderClient } from "@llm-provider/contracts";
import { parseConfig } from "../../services/llm-provider/src/config/load-config.js";
import type { Config, ConfigInput } from "../../services/llm-provider/src/config/schema.js";
import { decodeFloat32Base64 } from "../../services/llm-provider/src/domain/embedding-vector.js";
import { ensureJetStreamState } from "../../services/llm-provider/src/infra/jetstream/jetstream-state.js";
import { fakeEmbedding } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { countWorkers } from "../support/workers.js";
import { spawnBenchChild, spawnNode } from "./child-process.js";
import type { ChildHandle } from "./child-process.js";
import type { UpstreamCounts } from "./counting-upstream-process.js";
import { benchEmbeddingConfig, chunkText, EMBED_MODEL } from "./embedding-bench-config.js";
import { processCpuMicros, snapshotCpu } from "./proc-stats.js";
import type { CpuSnapshot } from "./proc-stats.js";
import { serviceEnvironment, serviceNodeFlags, writeServiceConfig } from "./service-config.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SERVICE_ENTRY = join(ROOT, "services/llm-provider/dist/main.js");
const DIMENSIONS = 8;
const WORKERS = 2;
/** The request/reply caller's batch, and the job path's (the config's default). */
const BATCH_ITEMS = 256;
const CONCURRENT_BATCHES = 4;
/** Short, so that the killed worker's items come back (and its cache claims are taken over) soon. */
const ACK_WAIT_MS = 5_000;
const CLAIM_TIMEOUT_MS = 2_000;
const WORKER_READY_MS = 30_000;
const WORKER_STOP_GRACE_MS = 10_000;
const EMBEDDING_TIMEOUT_MS = 60_000;
/** Job commands and result pages answer in milliseconds; a longer silence is a reply lost with a worker. */
const QUERY_TIMEOUT_MS = 10_000;
const KILL_POLL_MS = 20;

const progress = (text: string) => void process.stderr.write(`[bench:jobs] ${text}\n`);

function itemCount(): number {
  const { values } = parseArgs({ options: { items: { type: "string" } }, strict: false });
  const raw = values["items"] ?? process.env["BENCH_JOB_ITEMS"];
  const count = raw === undefined || typeof raw === "boolean" ? 100_000 : Number(raw);
  if (!Number.isInteger(count) || count < BATCH_ITEMS * WORKERS)
    throw new Error(`--items / BENCH_JOB_ITEMS: a whole number ≥ ${BATCH_ITEMS * WORKERS}, not ${raw}`);
  return count;
}

function workerConfig(natsUrl: string, upstreamBaseUrl: string): ConfigInput {
  return {
    ...benchEmbeddingConfig(natsUrl, upstreamBaseUrl),
    embedding_cache: { enabled: true, claim_timeout_ms: CLAIM_TIMEOUT_MS },
    jobs: {
      batch_items: BATCH_ITEMS,
      concurrent_batches: CONCURRENT_BATCHES,
      ack_wait_ms: ACK_WAIT_MS,
    },
  };
}

/** The counting fake upstream, shared by every scenario (its counts are reset before each). */
interface Upstream {
  baseUrl: string;
  pid: number;
  counts(): Promise<UpstreamCounts>;
  reset(): Promise<void>;
}

async function startUpstream(release: (step: () => Promise<unknown>) => void): Promise<Upstream> {
  const child = spawnBenchChild("fake upstream", "counting-upstream-process.ts");
  release(() => child.stop());
  const { baseUrl, statsUrl } = JSON.parse(await child.firstLine) as { baseUrl: string; statsUrl: string };
  return {
    baseUrl,
    pid: child.pid,
    async counts() {
      const response = await fetch(`${statsUrl}/stats`);
      return (await response.json()) as UpstreamCounts;
    },
    async reset() {
      await fetch(`${statsUrl}/reset`, { method: "POST" });
    },
  };
}

/** One scenario's nats-server and workers, and the caller's connection to them. */
interface Deployment {
  config: Config;
  upstream: Upstream;
  /** CPU µs a killed worker had used when it was killed, by name. */
  cpuAtKill: Map<string, number>;
  nats: NatsServerHandle;
  nc: NatsConnection;
  client: LlmProviderClient;
  workers: ChildHandle[];
  stop(): Promise<void>;
}

async function deploy(upstream: Upstream, label: string): Promise<Deployment> {
  const dir = await mkdtemp(join(tmpdir(), "llm-provider-bench-jobs-"));
  const nats = await startNatsServer();
  const workers: ChildHandle[] = [];
  const nc = await connect({
    servers: nats.url,
    name: `bench-jobs-${label.replace(/\W+/g, "-")}`,
    reconnect: false,
  });
  const stop = async () => {
    const profiling = process.env["BENCH_PROFILE_DIR"] !== undefined;
    await Promise.all(workers.map((worker) => worker.stop(profiling ? 60_000 : WORKER_STOP_GRACE_MS)));
    await nc.close().catch(() => undefined);
    await nats.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const config = workerConfig(nats.url, upstream.baseUrl);
    const parsed = parseConfig(config, "bench");
    // Made once up front (as llm-provider-bootstrap would), not raced by two starting workers.
    await ensureJetStreamState(nc, parsed);
    const configPath = await writeServiceConfig(dir, config);
    const profileDir = process.env["BENCH_PROFILE_DIR"];
    const profileFlags = profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : [];
    for (let index = 0; index < WORKERS; index++)
      workers.push(
        spawnNode(
          `worker ${index}`,
          [...serviceNodeFlags(), ...profileFlags, SERVICE_ENTRY, "--config", configPath],
          { cwd: ROOT, env: serviceEnvironment() },
        ),
      );
    const deadline = Date.now() + WORKER_READY_MS;
    while ((await countWorkers(nc)) < WORKERS) {
      const dead = workers.find((worker) => worker.hasExited());
      if (dead) throw new Error(`${dead.name} exited during start-up:\n${dead.outputTail()}`);
      if (Date.now() > deadline) throw new Error(`the workers did not all answer $SRV.PING in time`);
      await sleep(100);
    }
    const client = createLlmProviderClient(nc, {
      timeouts: { query: QUERY_TIMEOUT_MS, embedding: EMBEDDING_TIMEOUT_MS },
    });
    return { config: parsed, upstream, cpuAtKill: new Map(), nats, nc, client, workers, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** What a scenario measured. */
interface Figures {
  label: string;
  items: number;
  elapsedMs: number;
  /** Job paths: until the last item was published and the job sealed. */
  publishMs?: number;
  upstream: UpstreamCounts;
  /** Distinct items with a result, results beyond one per item, results that are errors. */
  results: { distinct: number; duplicates: number; failed: number; wrongVectors: number };
  /** CPU µs per item of the workers together, the nats-server, the upstream and the caller. */
  cpuPerItem: { workers: number; nats: number; upstream: number; caller: number };
  kill?: { atMs: number; upstreamInputsBefore: number; bound: number };
  callerRetries: number;
  redeliveries?: number;
}

/** Every result as it came: item index → its base64 vector (or why it failed). */
class ResultLog {
  readonly vectors: (string | undefined)[];
  duplicates = 0;
  failed = 0;
  distinct = 0;

  constructor(items: number) {
    this.vectors = new Array<string | undefined>(items);
  }

  add(index: number, embedding: string | undefined): void {
    if (this.vectors[index] !== undefined) {
      this.duplicates++;
      return;
    }
    if (embedding === undefined) {
      this.failed++;
      return;
    }
    this.vectors[index] = embedding;
    this.distinct++;
  }

  /** Vectors that are not the upstream's for their text (checked after the clock stopped). */
  wrongVectors(texts: readonly string[]): number {
    let wrong = 0;
    this.vectors.forEach((embedding, index) => {
      if (embedding === undefined) return;
      const got = decodeFloat32Base64(embedding);
      const expected = fakeEmbedding(texts[index]!, DIMENSIONS);
      if (got.length !== DIMENSIONS || got.some((value, at) => value !== expected[at])) wrong++;
    });
    return wrong;
  }
}

const textsFor = (label: string, count: number) =>
  Array.from({ length: count }, (_, index) => chunkText(`${label}-${index}`));

function cpuPids(deployment: Deployment, upstream: Upstream): Map<string, number> {
  return new Map<string, number>([
    ...deployment.workers.map((worker, index): [string, number] => [`worker ${index}`, worker.pid]),
    ["nats", deployment.nats.pid],
    ["upstream", upstream.pid],
    ["caller", process.pid],
  ]);
}

function cpuPerItem(before: CpuSnapshot, after: CpuSnapshot, items: number): Figures["cpuPerItem"] {
  const used = (name: string) => {
    const spent = (after.get(name) ?? NaN) - (before.get(name) ?? NaN);
    return Number.isFinite(spent) ? spent : 0;
  };
  let workers = 0;
  for (const name of after.keys()) if (name.startsWith("worker ")) workers += used(name);
  return {
    workers: workers / items,
    nats: used("nats") / items,
    upstream: used("upstream") / items,
    caller: used("caller") / items,
  };
}

/** SIGKILLs `doomed` once the upstream has embedded half the items; resolves when it is gone. */
async function killHalfWay(
  doomed: ChildHandle,
  upstream: Upstream,
  items: number,
  startedAt: number,
  done: AbortSignal,
  cpuAtKill: Map<string, number>,
): Promise<Figures["kill"]> {
  for (;;) {
    if (done.aborted) return undefined;
    const { inputs } = await upstream.counts();
    if (inputs >= items / 2) {
      const atMs = performance.now() - startedAt;
      // What it used until now would be gone with it.
      cpuAtKill.set(doomed.name, processCpuMicros(doomed.pid));
      process.kill(doomed.pid, "SIGKILL");
      await doomed.stop();
      progress(`SIGKILLed ${doomed.name} at ${(atMs / 1000).toFixed(1)} s (${inputs} inputs upstream)`);
      return { atMs, upstreamInputsBefore: inputs, bound: BATCH_ITEMS * CONCURRENT_BATCHES };
    }
    await sleep(KILL_POLL_MS);
  }
}

/** What a scenario's own part measured; the rest is the same for every scenario. */
interface Measured {
  log: ResultLog;
  publishMs?: number;
  /** Requests the caller sent again because their reply was lost with the killed worker. */
  callerRetries?: number;
  /** Items the job consumer handed out again (not acknowledged in time, or by a killed worker). */
  redeliveries?: number;
  kill?: Figures["kill"];
}
type Measure = (
  deployment: Deployment,
  texts: readonly string[],
  startedAt: number,
  log: ResultLog,
) => Promise<Omit<Measured, "log">>;

/** Deploys, runs `measure` on texts of the scenario's own, and counts what it cost and produced. */
async function measureScenario(
  upstream: Upstream,
  items: number,
  label: string,
  measure: Measure,
): Promise<Figures> {
  const deployment = await deploy(upstream, label);
  try {
    const texts = textsFor(label, items);
    await upstream.reset();
    const pids = cpuPids(deployment, upstream);
    const before = snapshotCpu(pids);
    const log = new ResultLog(items);
    const startedAt = performance.now();
    const measured = await measure(deployment, texts, startedAt, log);
    const elapsedMs = performance.now() - startedAt;
    const after = new Map([...snapshotCpu(pids), ...deployment.cpuAtKill]);
    return {
      label,
      items,
      elapsedMs,
      ...(measured.publishMs === undefined ? {} : { publishMs: measured.publishMs }),
      upstream: await upstream.counts(),
      results: {
        distinct: log.distinct,
        duplicates: log.duplicates,
        failed: log.failed,
        wrongVectors: log.wrongVectors(texts),
      },
      cpuPerItem: cpuPerItem(before, after, items),
      callerRetries: measured.callerRetries ?? 0,
      ...(measured.redeliveries === undefined ? {} : { redeliveries: measured.redeliveries }),
      ...(measured.kill ? { kill: measured.kill } : {}),
    };
  } catch (error) {
    for (const worker of deployment.workers)
      progress(`${label}: ${worker.name}'s last output:\n${worker.outputTail()}`);
    throw error;
  } finally {
    await deployment.stop();
  }
}

/**
 * A reply lost with the worker that was answering it (request/reply is at most once): the caller
 * asks again, as any caller of the job API must.
 */
const lostReply = (error: unknown) => error instanceof LlmProviderError && error.code === "request_timeout";

/**
 * Submits the job; when a reply was lost, submits it again under the same id, which resumes it
 * (items already stored are dropped by their Nats-Msg-Id).
 */
async function submitResuming(
  deployment: Deployment,
  texts: readonly string[],
  jobId: string,
  retried: () => void,
): Promise<void> {
  for (;;) {
    try {
      await deployment.client.submitEmbeddingJob({
        job_id: jobId,
        model: EMBED_MODEL,
        dimensions: DIMENSIONS,
        encoding_format: "base64",
        items: texts,
      });
      return;
    } catch (error) {
      if (!lostReply(error)) throw error;
      progress(`a reply was lost (${String(error)}): submitting job ${jobId} again`);
      retried();
    }
  }
}

/** Reads every result; after a lost page, reads on from the last result already read. */
async function readResuming(deployment: Deployment, jobId: string, log: ResultLog, retried: () => void) {
  let lastSeq = 0;
  for (;;) {
    try {
      for await (const result of deployment.client.embeddingJob(jobId)) {
        if (result.seq <= lastSeq) continue;
        lastSeq = result.seq;
        log.add(Number(result.item_id), result.ok ? String(result.embedding) : undefined);
      }
      return;
    } catch (error) {
      if (!lostReply(error)) throw error;
      progress(`a results page was lost (${String(error)}): reading on after seq ${lastSeq}`);
      retried();
    }
  }
}

/** How many times the job consumer handed out an item (the stream is the scenario's own). */
async function itemDeliveries(deployment: Deployment): Promise<number> {
  const { jobs } = deployment.config;
  const info = await (await jetstreamManager(deployment.nc)).consumers.info(jobs.items_stream, jobs.consumer);
  return info.delivered.consumer_seq;
}

/** Publishes every item as a job, then reads every result; optionally kills a worker half-way. */
function jobPath(withKill: boolean): Measure {
  return async (deployment, texts, startedAt, log) => {
    const finished = new AbortController();
    const kill = withKill
      ? killHalfWay(
          deployment.workers[0]!,
          deployment.upstream,
          texts.length,
          startedAt,
          finished.signal,
          deployment.cpuAtKill,
        )
      : Promise.resolve(undefined);
    const jobId = `bench-${nuid.next()}`;
    let callerRetries = 0;
    const retried = () => void callerRetries++;
    let publishMs: number;
    try {
      await submitResuming(deployment, texts, jobId, retried);
      publishMs = performance.now() - startedAt;
      progress(`${texts.length} items published and the job sealed in ${(publishMs / 1000).toFixed(1)} s`);
      await readResuming(deployment, jobId, log, retried);
    } finally {
      finished.abort();
    }
    const killed = await kill;
    if (withKill && !killed) throw new Error("the job finished before the upstream saw half of it");
    const redeliveries = (await itemDeliveries(deployment)) - texts.length;
    return { publishMs, callerRetries, redeliveries, ...(killed ? { kill: killed } : {}) };
  };
}

/** generate_embedding requests of BATCH_ITEMS inputs, as many at once as the job path runs batches. */
const requestReply: Measure = async (deployment, texts, _startedAt, log) => {
  let next = 0;
  const caller = async () => {
    while (next < texts.length) {
      const first = next;
      next = Math.min(texts.length, next + BATCH_ITEMS);
      const reply = await deployment.client.generateEmbedding({
        model: EMBED_MODEL,
        input: texts.slice(first, next),
        dimensions: DIMENSIONS,
        encoding_format: "base64",
      });
      reply.data.forEach((item, offset) => log.add(first + offset, String(item.embedding)));
    }
  };
  await Promise.all(Array.from({ length: WORKERS * CONCURRENT_BATCHES }, caller));
  return {};
};

const fixed = (value: number | undefined, digits: number) =>
  value !== undefined && Number.isFinite(value) ? value.toFixed(digits) : "-";

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]!.length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join("  ");
  return [line(header), widths.map((width) => "-".repeat(width)).join("  "), ...rows.map(line)];
}

const exactlyOnce = (figures: Figures) =>
  figures.results.distinct === figures.items &&
  figures.results.duplicates === 0 &&
  figures.results.failed === 0 &&
  figures.results.wrongVectors === 0;

/** Prints the report; returns whether every verdict holds. */
function report(scenarios: Figures[]): boolean {
  const rows = scenarios.map((s) => [
    s.label,
    String(s.items),
    fixed(s.elapsedMs / 1000, 1),
    fixed(s.publishMs === undefined ? undefined : s.publishMs / 1000, 1),
    fixed((s.items / s.elapsedMs) * 1000, 0),
    fixed(s.upstream.calls / s.items, 4),
    fixed(s.upstream.inputs / Math.max(1, s.upstream.calls), 1),
    String(s.upstream.inputs - s.items),
    String(s.upstream.repeated),
    `${s.results.distinct}/${s.results.duplicates}/${s.results.failed}/${s.results.wrongVectors}`,
    s.redeliveries === undefined ? "-" : String(s.redeliveries),
    String(s.callerRetries),
    fixed(s.cpuPerItem.workers, 0),
    fixed(s.cpuPerItem.nats, 0),
    fixed(s.cpuPerItem.upstream, 0),
    fixed(s.cpuPerItem.caller, 0),
  ]);
  const killed = scenarios.find((s) => s.kill);
  const job = scenarios.find((s) => s.publishMs !== undefined && !s.kill);
  const requestReply = scenarios.find((s) => s.publishMs === undefined);
  const onceMet = scenarios.every(exactlyOnce);
  const repeatsMet = !killed?.kill || killed.upstream.repeated <= killed.kill.bound;
  const mark = (met: boolean) => (met ? "PASS" : "MISS");
  const lines = [
    "",
    `llm-provider jobs benchmark — ${new Date().toISOString()}, Node ${process.versions.node}, ` +
      `${availableParallelism()} CPUs; ${WORKERS} workers, ${DIMENSIONS} dims base64, ` +
      `job batch_items ${BATCH_ITEMS} × concurrent_batches ${CONCURRENT_BATCHES} per worker, ` +
      `ack_wait ${ACK_WAIT_MS} ms, cache claim_timeout ${CLAIM_TIMEOUT_MS} ms; ` +
      `request/reply: ${BATCH_ITEMS} inputs per request at concurrency ${WORKERS * CONCURRENT_BATCHES}`,
    "",
    ...table(
      [
        "path",
        "items",
        "total s",
        "publish s",
        "items/s",
        "upstream calls/item",
        "inputs/call",
        "inputs beyond items",
        "inputs embedded again",
        "results ok/dup/failed/wrong",
        "items redelivered",
        "caller retries",
        "CPU µs/item workers",
        "nats",
        "upstream",
        "caller",
      ],
      rows,
    ),
    "(total: first publish or request to last result read; publish: every item stored and the job sealed; " +
      "CPU from /proc, every process shares the machine's CPUs)",
    "",
    `results exactly once, every vector the upstream's: ${mark(onceMet)}`,
    killed?.kill
      ? `after the SIGKILL (at ${fixed(killed.kill.atMs / 1000, 1)} s, ${killed.kill.upstreamInputsBefore} inputs upstream): ` +
        `${killed.upstream.repeated} inputs embedded again, bound batch_items × concurrent_batches = ` +
        `${killed.kill.bound}: ${mark(repeatsMet)}`
      : "",
    job && requestReply
      ? `job / request-reply items/s: ${fixed(requestReply.elapsedMs / job.elapsedMs, 2)}×`
      : "",
    "",
  ];
  for (const text of lines) process.stdout.write(`${text}\n`);
  process.stdout.write(
    `${JSON.stringify({ bench: "llm-provider-jobs", cpus: availableParallelism(), scenarios, exactly_once: onceMet, repeats_within_bound: repeatsMet })}\n`,
  );
  return onceMet && repeatsMet;
}

/** The scenarios BENCH_SCENARIOS names (comma-separated keys: job, request-reply, kill), or all. */
function selectedScenarios(): [string, Measure][] {
  const all: [string, string, Measure][] = [
    ["job", "job", jobPath(false)],
    ["request-reply", `request/reply ${BATCH_ITEMS}`, requestReply],
    ["kill", "job, 1 of 2 workers SIGKILLed", jobPath(true)],
  ];
  const keys = (process.env["BENCH_SCENARIOS"] ?? "")
    .split(",")
    .map((key) => key.trim())
    .filter((key) => key !== "");
  return all
    .filter(([key]) => keys.length === 0 || keys.includes(key))
    .map(([, label, measure]): [string, Measure] => [label, measure]);
}

async function main(): Promise<number> {
  const items = itemCount();
  const releases: (() => Promise<unknown>)[] = [];
  try {
    const upstream = await startUpstream((step) => releases.push(step));
    const scenarios: Figures[] = [];
    for (const [label, measure] of selectedScenarios()) {
      progress(`${label}: ${items} items, ${WORKERS} workers`);
      scenarios.push(await measureScenario(upstream, items, label, measure));
    }
    return report(scenarios) ? 0 : 1;
  } catch (error) {
    progress(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 1;
  } finally {
    for (const release of releases.reverse())
      await release().catch((error: unknown) => progress(`clean-up failed: ${String(error)}`));
  }
}

process.exit(await main());
