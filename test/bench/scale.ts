// Scale-out benchmark of issue #7 — `npm run bench:scale` (never part of `npm test`/CI).
//
// A 3-node JetStream cluster (R3 event stream and buckets, as in production), the fake OpenAI
// upstream in its own process, and closed-loop complete_chat load at concurrency 64 against one
// worker process, then against two (each connected to a different node). Prints throughput,
// latency, each worker's CPU (per request and share of a core) and that of the nats-servers, the
// upstream and the load generator. On a machine with fewer cores than processes the
// second worker mostly shows how the work spreads, not more throughput: say so when reading it.
// Environment: BENCH_WARMUP_MS, BENCH_MEASURE_MS (per phase), BENCH_CONCURRENCY.
import { mkdtemp } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { NatsConnection } from "@nats-io/nats-core";
import { SUBJECTS } from "@llm-provider/contracts";
import type { ChildHandle } from "./child-process.js";
import { runClosedLoop, summarizeLatencies } from "./closed-loop.js";
import { r3Config, startClusterBench } from "./cluster-setup.js";
import { COMPLETE_CHAT_REQUEST } from "./payloads.js";
import { machineCpu, snapshotCpu } from "./proc-stats.js";
import { writeServiceConfig } from "./service-config.js";

const number = (name: string, fallback: number) => Number(process.env[name] ?? fallback) || fallback;
const WARMUP_MS = number("BENCH_WARMUP_MS", 2_000);
const MEASURE_MS = number("BENCH_MEASURE_MS", 8_000);
const CONCURRENCY = number("BENCH_CONCURRENCY", 64);
const progress = (text: string) => void process.stderr.write(`[bench:scale] ${text}\n`);

interface PhaseFigures {
  workers: number;
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  firstError: string | undefined;
  /** CPU µs per request of each worker. */
  cpuPerWorker: number[];
  /** Share of one core each worker used, in %. */
  coreShareOfWorker: number[];
  /** CPU µs per request of the other processes (all three nodes together for nats-server). */
  cpuPerRequestOthers: { natsServers: number; upstream: number; loadGenerator: number };
  /** Machine CPU used by processes that are not the bench's, in % of all CPUs. */
  otherLoadPercent: number;
}

interface Processes {
  workers: ChildHandle[];
  natsPids: number[];
  upstreamPid: number;
}

async function measure(nc: NatsConnection, processes: Processes): Promise<PhaseFigures> {
  const { workers } = processes;
  const body = JSON.stringify(COMPLETE_CHAT_REQUEST);
  const send = async () => {
    const reply = await nc.request(SUBJECTS.completeChat, body, { timeout: 10_000 });
    const code = reply.headers?.get("Nats-Service-Error-Code");
    if (code) throw new Error(`error reply ${code}: ${reply.string().slice(0, 200)}`);
  };
  const never = new AbortController().signal;
  await runClosedLoop(send, CONCURRENCY, { maxMs: WARMUP_MS, maxRequests: 1_000_000 }, never);
  const pids = new Map<string, number>([
    ...workers.map((worker, index): [string, number] => [`worker ${index}`, worker.pid]),
    ...processes.natsPids.map((pid, index): [string, number] => [`nats ${index}`, pid]),
    ["upstream", processes.upstreamPid],
    ["load generator", process.pid],
  ]);
  const before = snapshotCpu(pids);
  const machineBefore = machineCpu();
  const result = await runClosedLoop(send, CONCURRENCY, { maxMs: MEASURE_MS, maxRequests: 2_000_000 }, never);
  const machineAfter = machineCpu();
  const after = snapshotCpu(pids);
  const used = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
  const perRequest = (micros: number) => micros / Math.max(1, result.requests);
  const latency = summarizeLatencies(result.latenciesMs);
  const elapsedMicros = result.elapsedMs * 1000;
  let ours = 0;
  for (const name of pids.keys()) ours += used(name);
  const machineBusy = machineAfter.busyMicros - machineBefore.busyMicros;
  return {
    workers: workers.length,
    requests: result.requests,
    rps: (result.requests / result.elapsedMs) * 1000,
    p50: latency.p50,
    p99: latency.p99,
    errors: result.errors,
    firstError: result.firstError,
    cpuPerWorker: workers.map((_worker, index) => perRequest(used(`worker ${index}`))),
    coreShareOfWorker: workers.map((_worker, index) => (100 * used(`worker ${index}`)) / elapsedMicros),
    cpuPerRequestOthers: {
      natsServers: perRequest(
        processes.natsPids.reduce((sum, _pid, index) => sum + used(`nats ${index}`), 0),
      ),
      upstream: perRequest(used("upstream")),
      loadGenerator: perRequest(used("load generator")),
    },
    otherLoadPercent: Math.max(0, (100 * (machineBusy - ours)) / (elapsedMicros * availableParallelism())),
  };
}

const bench = await startClusterBench("scale", progress);
try {
  const { cluster, nc } = bench;
  const phases: PhaseFigures[] = [];
  const workers: ChildHandle[] = [];
  for (const [index, url] of cluster.urls.slice(0, 2).entries()) {
    const dir = await mkdtemp(join(bench.dir, `worker-${index}-`));
    const configPath = await writeServiceConfig(dir, r3Config(url, bench.upstreamBaseUrl));
    progress(`starting worker ${index + 1} (connected to node n${index})`);
    workers.push(await bench.startWorker(`worker ${index + 1}`, configPath, index + 1));
    progress(`measuring ${workers.length} worker(s): ${WARMUP_MS} ms warm-up, ${MEASURE_MS} ms measured`);
    const natsPids = cluster.nodes.map((node) => node.pid);
    phases.push(await measure(nc, { workers, natsPids, upstreamPid: bench.upstreamPid }));
    await sleep(500);
  }

  console.log(
    `\nllm-provider scale-out — ${new Date().toISOString()}, Node ${process.versions.node}, ` +
      `${availableParallelism()} CPUs, 3-node JetStream cluster (R3), complete_chat at concurrency ${CONCURRENCY}\n`,
  );
  const fixed = (value: number, digits: number, width: number) => value.toFixed(digits).padStart(width);
  console.log(
    "workers   req/s   p50 ms   p99 ms  errors  worker CPU µs/req  worker core %  nats-servers µs/req  upstream µs/req  load gen µs/req  other load %",
  );
  console.log(
    "-------  ------  -------  -------  ------  -----------------  -------------  -------------------  ---------------  ---------------  ------------",
  );
  for (const phase of phases) {
    console.log(
      [
        String(phase.workers).padStart(7),
        fixed(phase.rps, 0, 6),
        fixed(phase.p50, 2, 7),
        fixed(phase.p99, 2, 7),
        String(phase.errors).padStart(6),
        phase.cpuPerWorker
          .map((cpu) => cpu.toFixed(0))
          .join(" + ")
          .padStart(17),
        phase.coreShareOfWorker
          .map((share) => share.toFixed(0))
          .join(" + ")
          .padStart(13),
        fixed(phase.cpuPerRequestOthers.natsServers, 0, 19),
        fixed(phase.cpuPerRequestOthers.upstream, 0, 15),
        fixed(phase.cpuPerRequestOthers.loadGenerator, 0, 15),
        fixed(phase.otherLoadPercent, 1, 12),
      ].join("  "),
    );
    if (phase.firstError) console.log(`         first error: ${phase.firstError}`);
  }
  console.log(
    `(CPU from /proc/<pid>/stat over the measured phase; every process shares the ${availableParallelism()} CPUs, ` +
      `so with few cores a second worker mostly shows how the work spreads)`,
  );
  const [one, two] = phases;
  if (one && two) console.log(`\n2 workers / 1 worker throughput: ${(two.rps / one.rps).toFixed(2)}×`);
  console.log(JSON.stringify({ bench: "llm-provider-scale", concurrency: CONCURRENCY, phases }));
} finally {
  await bench.release();
}
