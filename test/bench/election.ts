// What holding a reply until its event is stored costs — `npm run bench:election` (never part of
// `npm test`/CI). A 3-node JetStream cluster (R3, as in production), the fake upstream in its own
// process and one worker (built), for each `events.delivery` (before_reply, after_reply): closed
// loop complete_chat at concurrency 1 and 64, in normal operation and while the event stream's
// leader is killed and a new one elected. Prints p50/p99, throughput, errors and the replies that
// went out before their event was stored (at risk).
// Environment: BENCH_WARMUP_MS, BENCH_MEASURE_MS (normal phases), BENCH_ELECTION_MS (the loaded
// span around the kill), BENCH_DELIVERY (one mode only).
import { mkdtemp } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { SUBJECTS } from "@llm-provider/contracts";
import type { ChildHandle } from "./child-process.js";
import { runClosedLoop, summarizeLatencies } from "./closed-loop.js";
import type { LoadResult } from "./closed-loop.js";
import { r3Config, startClusterBench } from "./cluster-setup.js";
import type { ClusterBench } from "./cluster-setup.js";
import { COMPLETE_CHAT_REQUEST } from "./payloads.js";
import { writeServiceConfig } from "./service-config.js";

const number = (name: string, fallback: number) => Number(process.env[name] ?? fallback) || fallback;
const WARMUP_MS = number("BENCH_WARMUP_MS", 2_000);
const MEASURE_MS = number("BENCH_MEASURE_MS", 5_000);
const ELECTION_MS = number("BENCH_ELECTION_MS", 12_000);
const DELIVERIES = (process.env["BENCH_DELIVERY"]?.split(",") ?? ["before_reply", "after_reply"]) as Array<
  "before_reply" | "after_reply"
>;
const EVENT_STREAM = "LLM_PROVIDER_EVENTS";
const STATE_STREAMS = [
  EVENT_STREAM,
  "KV_llm_provider_health",
  "KV_llm_provider_embeddings",
  "KV_llm_provider_breakers",
  "KV_llm_provider_rate_limits",
  "KV_llm_provider_spend",
  "KV_llm_provider_requests",
  "OBJ_llm_provider_replies",
  "LLM_PROVIDER_JOB_ITEMS",
  "LLM_PROVIDER_JOB_RESULTS",
  "KV_llm_provider_jobs",
  "LLM_PROVIDER_STREAMS",
];
const progress = (text: string) => void process.stderr.write(`[bench:election] ${text}\n`);

interface Row {
  delivery: string;
  phase: "normal" | "election";
  concurrency: number;
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  firstError: string | undefined;
  atRisk: number;
}

/** The worker's count of replies sent before their event was stored (its throttled log line). */
function atRiskOf(worker: ChildHandle): number {
  let most = 0;
  for (const match of worker.outputTail().matchAll(/"at_risk_total":(\d+)/g))
    most = Math.max(most, Number(match[1]));
  return most;
}

function row(
  delivery: string,
  phase: Row["phase"],
  concurrency: number,
  result: LoadResult,
  atRisk: number,
): Row {
  const latency = summarizeLatencies(result.latenciesMs);
  return {
    delivery,
    phase,
    concurrency,
    requests: result.requests,
    rps: (result.requests / result.elapsedMs) * 1000,
    p50: latency.p50,
    p99: latency.p99,
    max: latency.max,
    errors: result.errors,
    firstError: result.firstError,
    atRisk,
  };
}

async function measureDelivery(
  delivery: "before_reply" | "after_reply",
  bench: ClusterBench,
): Promise<Row[]> {
  const { cluster, nc } = bench;
  const configPath = await writeServiceConfig(
    await mkdtemp(join(bench.dir, `${delivery}-`)),
    r3Config(cluster.urls[0]!, bench.upstreamBaseUrl, { events: { replicas: 3, delivery } }),
  );
  const worker = await bench.startWorker(delivery, configPath, 1);
  const body = JSON.stringify(COMPLETE_CHAT_REQUEST);
  // The caller's deadline is generous: during an election a reply waits for its event.
  const send = async () => {
    const reply = await nc.request(SUBJECTS.completeChat, body, { timeout: 30_000 });
    const code = reply.headers?.get("Nats-Service-Error-Code");
    if (code) throw new Error(`error reply ${code}: ${reply.string().slice(0, 200)}`);
  };
  const never = new AbortController().signal;
  const rows: Row[] = [];
  try {
    for (const concurrency of [1, 64]) {
      progress(`${delivery} @${concurrency}: normal operation`);
      await runClosedLoop(send, concurrency, { maxMs: WARMUP_MS, maxRequests: 1_000_000 }, never);
      const normal = await runClosedLoop(
        send,
        concurrency,
        { maxMs: MEASURE_MS, maxRequests: 2_000_000 },
        never,
      );
      rows.push(row(delivery, "normal", concurrency, normal, atRiskOf(worker)));

      const leader = await cluster.streamLeader(EVENT_STREAM);
      progress(`${delivery} @${concurrency}: killing the event stream's leader (node ${leader}) under load`);
      const riskBefore = atRiskOf(worker);
      const loaded = runClosedLoop(send, concurrency, { maxMs: ELECTION_MS, maxRequests: 2_000_000 }, never);
      await sleep(1_000);
      await cluster.kill(leader);
      const election = await loaded;
      rows.push(row(delivery, "election", concurrency, election, atRiskOf(worker) - riskBefore));
      await cluster.restart(leader);
      await cluster.waitForHealthy(STATE_STREAMS);
    }
  } finally {
    await worker.stop();
  }
  return rows;
}

const bench = await startClusterBench("election", progress);
try {
  await bench.cluster.waitForHealthy(STATE_STREAMS);
  const rows: Row[] = [];
  for (const delivery of DELIVERIES) rows.push(...(await measureDelivery(delivery, bench)));

  console.log(
    `\nllm-provider events.delivery — ${new Date().toISOString()}, Node ${process.versions.node}, ` +
      `${availableParallelism()} CPUs, 3-node JetStream cluster (R3), one worker, complete_chat\n`,
  );
  console.log("delivery      phase     conc  requests   req/s   p50 ms   p99 ms    max ms  errors  at risk");
  console.log("------------  --------  ----  --------  ------  -------  -------  --------  ------  -------");
  const fixed = (value: number, digits: number, width: number) => value.toFixed(digits).padStart(width);
  for (const r of rows) {
    console.log(
      [
        r.delivery.padEnd(12),
        r.phase.padEnd(8),
        String(r.concurrency).padStart(4),
        String(r.requests).padStart(8),
        fixed(r.rps, 0, 6),
        fixed(r.p50, 2, 7),
        fixed(r.p99, 2, 7),
        fixed(r.max, 0, 8),
        String(r.errors).padStart(6),
        String(r.atRisk).padStart(7),
      ].join("  "),
    );
    if (r.firstError) console.log(`              first error: ${r.firstError}`);
  }
  console.log(
    `(election: ${ELECTION_MS} ms of load, the leader killed 1 s in; at risk: replies sent before their event ` +
      "was stored — lost only if the worker also died before JetStream took them)",
  );
  console.log(JSON.stringify({ bench: "llm-provider-election", rows }));
} finally {
  await bench.release();
}
