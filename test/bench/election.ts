// What holding a reply until its event is stored costs — `npm run bench:election` (never part of
// `npm test`/CI). A 3-node JetStream cluster (R3, as in production), the fake upstream in its own
// process and one worker (built), for each `events.delivery` (before_reply, after_reply): closed
// loop complete_chat at concurrency 1 and 64, in normal operation and while the event stream's
// leader is killed and a new one elected. Prints p50/p99, throughput, errors and the replies that
// went out before their event was stored (at risk).
// Environment: BENCH_WARMUP_MS, BENCH_MEASURE_MS (normal phases), BENCH_ELECTION_MS (the loaded
// span around the kill), BENCH_DELIVERY (one mode only).
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { SUBJECTS } from "@llm-provider/contracts";
import { parseConfig } from "../../services/llm-provider/src/config/load-config.js";
import type { ConfigInput } from "../../services/llm-provider/src/config/schema.js";
import { ensureJetStreamState } from "../../services/llm-provider/src/infra/jetstream-state.js";
import { startNatsCluster } from "../harness/nats-cluster.js";
import type { NatsClusterHandle } from "../harness/nats-cluster.js";
import { countWorkers } from "../support/workers.js";
import { spawnNode } from "./child-process.js";
import type { ChildHandle } from "./child-process.js";
import { runClosedLoop, summarizeLatencies } from "./closed-loop.js";
import type { LoadResult } from "./closed-loop.js";
import { COMPLETE_CHAT_REQUEST } from "./payloads.js";
import {
  benchServiceConfig,
  serviceEnvironment,
  serviceNodeFlags,
  writeServiceConfig,
} from "./service-config.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SERVICE_ENTRY = join(ROOT, "services/llm-provider/dist/main.js");
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
];
const progress = (text: string) => void process.stderr.write(`[bench:election] ${text}\n`);

const releases: Array<() => Promise<unknown>> = [];
async function releaseAll(): Promise<void> {
  for (let release = releases.pop(); release; release = releases.pop())
    await release().catch(() => undefined);
}

function r3Config(server: string, upstreamBaseUrl: string, delivery: string): ConfigInput {
  return {
    ...benchServiceConfig(server, upstreamBaseUrl),
    events: { replicas: 3, delivery: delivery as "before_reply" },
    embedding_cache: { replicas: 3 },
    health: { replicas: 3 },
    circuit_breaker: { replicas: 3 },
    rate_limits: { replicas: 3 },
  };
}

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

async function startWorker(configPath: string, nc: NatsConnection): Promise<ChildHandle> {
  const worker = spawnNode("worker", [...serviceNodeFlags(), SERVICE_ENTRY, "--config", configPath], {
    cwd: ROOT,
    env: serviceEnvironment(),
  });
  const deadline = Date.now() + 20_000;
  while ((await countWorkers(nc)) < 1) {
    if (worker.hasExited() || Date.now() > deadline)
      throw new Error(`worker did not start:\n${worker.outputTail()}`);
    await sleep(100);
  }
  return worker;
}

async function measureDelivery(
  delivery: string,
  cluster: NatsClusterHandle,
  nc: NatsConnection,
  baseUrl: string,
  dir: string,
): Promise<Row[]> {
  const configPath = await writeServiceConfig(
    await mkdtemp(join(dir, `${delivery}-`)),
    r3Config(cluster.urls[0]!, baseUrl, delivery),
  );
  const worker = await startWorker(configPath, nc);
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

try {
  progress("starting a 3-node JetStream cluster and the fake upstream");
  const cluster = await startNatsCluster(3);
  releases.push(() => cluster.stop());
  const upstream = spawnNode(
    "fake upstream",
    ["--import", "tsx", "--conditions=source", join(ROOT, "test/bench/fake-upstream-process.ts")],
    { cwd: ROOT },
  );
  releases.push(() => upstream.stop());
  const { baseUrl } = JSON.parse(await upstream.firstLine) as { baseUrl: string };
  const dir = await mkdtemp(join(tmpdir(), "llm-provider-bench-election-"));
  releases.push(() => rm(dir, { recursive: true, force: true }));
  const nc = await connect({ servers: cluster.urls, name: "bench-election-load", maxReconnectAttempts: -1 });
  releases.push(() => nc.close());
  await ensureJetStreamState(nc, parseConfig(r3Config(cluster.urls[0]!, baseUrl, "before_reply"), "bench"));
  await cluster.waitForHealthy(STATE_STREAMS);

  const rows: Row[] = [];
  for (const delivery of DELIVERIES)
    rows.push(...(await measureDelivery(delivery, cluster, nc, baseUrl, dir)));

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
  await releaseAll();
}
