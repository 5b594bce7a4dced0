// Scale-out on a real 3-node JetStream cluster (issue #7): two service processes, R3 state, steady
// load from a caller that retries with the same request id. Kill the node a worker is connected
// to, then the event stream's leader: every request is answered, every request has its event
// exactly once, the caches and health stay readable. Kill a worker: its in-flight requests fail
// within the caller's deadline and the other worker answers the rest.
// One file past the usual length on purpose: the scenarios run in order on the one cluster and
// workers started here, and share its load generator and event and state checks.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { createLlmProviderClient, LlmProviderError, SERVICE_NAME, SUBJECTS } from "@llm-provider/contracts";
import type { LlmProviderClient } from "@llm-provider/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify as toYaml } from "yaml";
import { parseConfig } from "../../services/llm-provider/src/config/load-config.js";
import type { ConfigInput } from "../../services/llm-provider/src/config/schema.js";
import { deriveEventId } from "../../services/llm-provider/src/domain/events.js";
import { ensureJetStreamState } from "../../services/llm-provider/src/infra/jetstream/jetstream-state.js";
import { toKvToken } from "../../services/llm-provider/src/infra/kv/kv-token.js";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsCluster } from "../harness/nats-cluster.js";
import type { NatsClusterHandle } from "../harness/nats-cluster.js";
import { builtServiceArgs } from "../support/built-service.js";
import { cacheKey, readCacheEntry } from "../support/embeddings.js";
import { readEvents } from "../support/events.js";
import { TEST_API_KEY, testConfig } from "../support/service.js";
import { eventually as eventuallyValue } from "../support/until.js";
import { countWorkers } from "../support/workers.js";

const root = resolve(import.meta.dirname, "../..");
/** The caller's deadline per request; a request a dead worker held must fail by then. */
const REQUEST_TIMEOUT_MS = 3_000;
/** What "by then" may overrun on a loaded 2-core machine (timer and event-loop lag). */
const DEADLINE_SLACK_MS = 1_000;
const CONCURRENCY = 6;
/** Deadline of a health query (it reads two buckets, nothing upstream), well under the 5 s KV timeout. */
const HEALTH_QUERY_TIMEOUT_MS = 1_000;
/** Health queries in a row that must each answer in time (the defect hit about every other one). */
const HEALTH_QUERIES = 8;
/** Every upstream answer takes this long, so requests are really in flight when something dies. */
const UPSTREAM_DELAY_MS = 30;
/** What a caller retries with the same request id: nobody answered (in time). */
const TRANSPORT_FAILURES = new Set(["request_timeout", "service_unavailable"]);
/** A request unanswered this long (with retries) fails the test: that is a hang. */
const GIVE_UP_MS = 20_000;
/**
 * Answers after the fault began (and repeats) the load goes on for, so that every scenario shows
 * the service serving again after it whatever the machine's speed; a cluster that does not get
 * there within LOAD_BOUND_MS fails the scenario.
 */
const MIN_ANSWERED_AFTER_FAULT = 60;
const MIN_REPEATED = 12;
const LOAD_BOUND_MS = 30_000;

const EVENT_STREAM = "LLM_PROVIDER_EVENTS";
const EMBEDDINGS_BUCKET = "llm_provider_embeddings";
const HEALTH_BUCKET = "llm_provider_health";
const STATE_STREAMS = [
  EVENT_STREAM,
  `KV_${HEALTH_BUCKET}`,
  `KV_${EMBEDDINGS_BUCKET}`,
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
/** The workers' durable consumer of job items, R3 with its stream. */
const JOB_CONSUMER = "llm-provider-job-workers";

let cluster: NatsClusterHandle;
let upstream: FakeOpenAIServer;
let workDir: string;
let caller: NatsConnection;
let client: LlmProviderClient;
const workers: Worker[] = [];
/** Connected to node 0 (`workers` is in start-up order, which is not fixed). */
let workerA: Worker;

interface Worker {
  name: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** No worker outlives the test process, even when it ends before `afterAll` (harness nodes alike). */
function killWorkersOnExit(): void {
  for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill("SIGKILL");
}
process.on("exit", killWorkersOnExit);

function clusterConfig(servers: string | string[]): ConfigInput {
  const config = testConfig(typeof servers === "string" ? servers : servers[0]!, [upstream.baseUrl], {
    nats: { servers },
    // Every piece of state R3, as in production (deploy/kubernetes).
    events: { replicas: 3, publish_timeout_ms: 2_000 },
    // No in-process tier: a cache hit is a read of the R3 bucket.
    embedding_cache: { replicas: 3, memory_max_bytes: 0 },
    health: { replicas: 3, flush_interval_ms: 500 },
    circuit_breaker: { failure_threshold: 1_000, replicas: 3 },
    rate_limits: { replicas: 3 },
    spend: { replicas: 3 },
    // A retry with the same id after a worker died waits for that worker's claim to lapse: a lease
    // well inside the caller's timeout lets the retry be served within its own deadline.
    idempotency: { replicas: 3, lease_ms: 1_000 },
    jobs: { replicas: 3 },
    resumable_streams: { replicas: 3 },
    service: { shutdown_grace_ms: 2_000 },
  });
  config.models.push({
    model_name: "embed",
    provider_id: "p0",
    upstream_model: "text-embedding-3-small",
    context_window: 8_191,
    max_tokens: 8_191,
    dimensions: 8,
    features: { chat: false, embedding: true, function_calling: false, streaming: false },
  });
  return config;
}

async function startWorker(name: string, server: string): Promise<Worker> {
  const configPath = join(workDir, `${name}.yaml`);
  await writeFile(configPath, toYaml(clusterConfig(server)));
  const child = spawn(process.execPath, builtServiceArgs("main", ["--config", configPath]), {
    cwd: root,
    env: { ...process.env, TEST_OPENAI_KEY: TEST_API_KEY },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  const worker = { name, child, output: () => output, exited };
  workers.push(worker);
  const deadline = Date.now() + 20_000;
  while (!output.includes("llm-provider serving")) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`worker ${name} did not start:\n${output.slice(-3_000)}`);
    await sleep(50);
  }
  return worker;
}

const workerLogs = (): string =>
  workers.map((worker) => `--- worker ${worker.name}:\n${worker.output().slice(-2_000)}`).join("\n");

beforeAll(async () => {
  cluster = await startNatsCluster(3);
  upstream = await startFakeOpenAIServer({ defaultDelayMs: UPSTREAM_DELAY_MS, recordRequests: false });
  workDir = await mkdtemp(join(tmpdir(), "llm-provider-cluster-"));
  // The caller knows every node, as a client of a cluster does.
  caller = await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  client = createLlmProviderClient(caller);
  // State placed ahead of the workers, R3, as `llm-provider-bootstrap` would.
  const state = await ensureJetStreamState(caller, parseConfig(clusterConfig(cluster.urls), "cluster test"));
  expect(Object.fromEntries(state.map((resource) => [resource.name, resource.replicas]))).toEqual(
    Object.fromEntries(
      [...STATE_STREAMS, JOB_CONSUMER].map((stream) => [stream.replace(/^(KV|OBJ)_/, ""), 3]),
    ),
  );
  // Each worker is told one node only; it learns the others from the cluster and fails over.
  [workerA] = await Promise.all([startWorker("a", cluster.urls[0]!), startWorker("b", cluster.urls[1]!)]);
  await cluster.waitForHealthy(STATE_STREAMS);
}, 60_000);

afterAll(async () => {
  for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill("SIGTERM");
  await Promise.all(
    workers.map((worker) =>
      Promise.race([worker.exited, sleep(8_000).then(() => worker.child.kill("SIGKILL"))]),
    ),
  );
  process.off("exit", killWorkersOnExit);
  await caller?.close();
  await upstream?.close();
  await cluster?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
}, 30_000);

interface FailedAttempt {
  id: string;
  code: string;
  message: string;
  /** How long the caller waited for this attempt. */
  waitedMs: number;
  /** When it failed (ms since the load started). */
  atMs: number;
}

interface LoadResult {
  /** Request id → when it was answered (ms since the load started). */
  answered: Map<string, number>;
  /** Attempts that failed for want of an answer; each was retried with the same request id. */
  failures: FailedAttempt[];
  /** Attempts that failed with anything else: the service answered with an error. */
  unexpected: FailedAttempt[];
  /** When `during` started its fault (ms since the load started). */
  faultAtMs: number;
  /** Requests sent once more with the same id after their answer (a retry whose reply was lost). */
  repeated: number;
}

const answeredAfterFault = (result: LoadResult): number =>
  [...result.answered.values()].filter((at) => at > result.faultAtMs).length;

/** Every this many requests, one is sent again with its id once answered: its event must stay single. */
const REPEAT_EVERY = 5;

/**
 * Steady load from CONCURRENCY loops until `fault` is done plus `tailMs`, and on until the service
 * answered MIN_ANSWERED_AFTER_FAULT requests after the fault began. Each request is sent
 * until answered, with the same request id, as a caller that wants exactly one chat should; every
 * REPEAT_EVERY-th is sent once more after its answer, so that de-duplication is always exercised
 * (a fault does not always make the caller retry something the service had already done).
 */
async function loadWhile(prefix: string, fault: () => Promise<void>, tailMs = 1_500): Promise<LoadResult> {
  const startedAt = performance.now();
  const now = () => performance.now() - startedAt;
  const result: LoadResult = {
    answered: new Map(),
    failures: [],
    unexpected: [],
    faultAtMs: Number.NaN,
    repeated: 0,
  };
  let next = 0;
  let running = true;
  let fatal: Error | undefined;
  const answer = async (id: string) => {
    const giveUpAt = Date.now() + GIVE_UP_MS;
    while (Date.now() < giveUpAt) {
      const sentAt = performance.now();
      try {
        const completion = await client.completeChat(
          { model: "model-0", messages: [{ role: "user", content: `hello ${id}` }] },
          { requestId: id, timeoutMs: REQUEST_TIMEOUT_MS },
        );
        if (completion.request_id !== id || completion.content !== `echo: hello ${id}`)
          throw new Error(`request ${id} got another request's answer: ${JSON.stringify(completion)}`);
        result.answered.set(id, now());
        return;
      } catch (error) {
        if (!(error instanceof LlmProviderError)) throw error;
        const failure = {
          id,
          code: error.code,
          message: error.message,
          waitedMs: performance.now() - sentAt,
          atMs: now(),
        };
        (TRANSPORT_FAILURES.has(error.code) ? result.failures : result.unexpected).push(failure);
        await sleep(100);
      }
    }
    throw new Error(
      `request ${id} unanswered for ${GIVE_UP_MS} ms: ` +
        `${JSON.stringify([...result.failures, ...result.unexpected].filter((f) => f.id === id).slice(-3))}\n` +
        workerLogs(),
    );
  };
  const loops = Array.from({ length: CONCURRENCY }, async () => {
    while (running && !fatal) {
      const sequence = next++;
      const id = `${prefix}-${sequence}`;
      try {
        await answer(id);
        if (sequence % REPEAT_EVERY === 0) {
          await answer(id);
          result.repeated++;
        }
      } catch (error) {
        fatal ??= error as Error;
      }
    }
  });
  try {
    await sleep(1_000); // steady state first
    result.faultAtMs = now();
    await fault();
    await sleep(tailMs);
    const bound = performance.now() + LOAD_BOUND_MS;
    while (
      !fatal &&
      (answeredAfterFault(result) < MIN_ANSWERED_AFTER_FAULT || result.repeated < MIN_REPEATED) &&
      performance.now() < bound
    )
      await sleep(100);
  } finally {
    running = false;
    await Promise.all(loops);
  }
  if (fatal) throw fatal;
  return result;
}

/** Caller-side checks common to every scenario. */
function expectCleanLoad(result: LoadResult): void {
  expect(answeredAfterFault(result)).toBeGreaterThanOrEqual(MIN_ANSWERED_AFTER_FAULT);
  expect(result.repeated).toBeGreaterThanOrEqual(MIN_REPEATED);
  // The service itself never answered with an error: only "no answer (yet)" was retried.
  expect(result.unexpected).toEqual([]);
  // No attempt hung past the caller's deadline.
  const longest = Math.max(0, ...result.failures.map((failure) => failure.waitedMs));
  expect(longest).toBeLessThan(REQUEST_TIMEOUT_MS + DEADLINE_SLACK_MS);
}

/**
 * Every answered request has exactly one chat_completed event (retries de-duplicated through the
 * id derived from the request id, sent as Nats-Msg-Id), none for anything else, and no request
 * of the run failed in the service (chat_failed).
 */
async function expectEventsExactlyOnce(prefix: string, answered: Iterable<string>): Promise<void> {
  const ids = new Set(answered);
  const deadline = Date.now() + 30_000;
  let completed = new Map<string, number>();
  let failed: string[] = [];
  let badIds: string[] = [];
  while (Date.now() < deadline) {
    // While the stream elects a new leader, reading it times out: that is the election, retry.
    const events = await readEvents(caller).catch(() => undefined);
    if (events) {
      completed = new Map();
      failed = [];
      badIds = [];
      for (const { event, msgId, subject } of events) {
        const id = event.request_id;
        if (!id.startsWith(`${prefix}-`)) continue;
        if (event.type === SUBJECTS.chatFailedEvent) failed.push(id);
        if (event.type !== SUBJECTS.chatCompletedEvent) continue;
        completed.set(id, (completed.get(id) ?? 0) + 1);
        const expectedId = deriveEventId(event.type, event.caller, id);
        if (event.id !== expectedId || msgId !== expectedId || subject !== event.type) badIds.push(id);
      }
      // The workers retry unacknowledged events; wait for the last of them.
      if ([...ids].every((id) => completed.has(id))) break;
    }
    await sleep(500);
  }
  const missing = [...ids].filter((id) => !completed.has(id));
  const duplicated = [...completed].filter(([, count]) => count > 1);
  const unknown = [...completed.keys()].filter((id) => !ids.has(id));
  expect({ missing, duplicated, unknown, failed, badIds }, workerLogs()).toEqual({
    missing: [],
    duplicated: [],
    unknown: [],
    failed: [],
    badIds: [],
  });
}

/**
 * Retries `check` through a leader election (a bucket whose leader was lost has none for a
 * while): on a NATS timeout, a retryable service error, or `NotYet`. Anything else fails at once.
 */
async function eventually<T>(what: string, check: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    try {
      return await check();
    } catch (error) {
      const transient =
        error instanceof NotYet ||
        (error instanceof LlmProviderError && error.retryable) ||
        (error instanceof Error && error.name === "TimeoutError");
      if (!transient || Date.now() - started > timeoutMs)
        throw new Error(`${what} failed (after ${Date.now() - started} ms): ${String(error)}`, {
          cause: error,
        });
      await sleep(250);
    }
  }
}

/** A check that may pass later (e.g. a cache write not yet readable). */
class NotYet extends Error {}

const EMBEDDED_TEXT = "a text embedded before the fault";

/** An embedding the service stores in the R3 cache bucket before the fault. */
async function embedBeforeFault(): Promise<void> {
  const result = await client.generateEmbedding(
    { model: "embed", input: EMBEDDED_TEXT },
    { timeoutMs: REQUEST_TIMEOUT_MS },
  );
  expect(result.data).toHaveLength(1);
  await eventually("the cache write", async () => {
    const entry = await readCacheEntry(caller, cacheKey(EMBEDDED_TEXT), EMBEDDINGS_BUCKET);
    if (typeof entry !== "object") throw new NotYet(`cache entry is ${entry}`);
  });
}

/**
 * With the lost node still down: the embedding cache serves a hit through a worker and reads
 * directly; the other buckets answer reads; every health query answers in time and merges what
 * both workers wrote to the health bucket.
 */
async function expectStateReadable(): Promise<void> {
  await eventually("a cache hit through the service", async () => {
    const result = await client.generateEmbedding(
      { model: "embed", input: EMBEDDED_TEXT },
      { timeoutMs: REQUEST_TIMEOUT_MS },
    );
    // Uncached means the cache read failed or timed out (the worker then asks the provider).
    if (!result.data[0]?.cached) throw new NotYet("answered, but not from the cache");
  });
  const entry = await eventually("reading the cache bucket", () =>
    readCacheEntry(caller, cacheKey(EMBEDDED_TEXT), EMBEDDINGS_BUCKET),
  );
  expect(entry).toMatchObject({ dimensions: 8 });

  // The other buckets answer reads (through a leader election, if their leader was lost).
  const kvm = new Kvm(caller);
  for (const bucket of ["llm_provider_breakers", "llm_provider_rate_limits"]) {
    const kv = await kvm.open(bucket);
    await eventually(`reading ${bucket}`, () => kv.get(toKvToken("p0")));
  }
  // The health bucket has a leader again, if it was on the lost node (an election, not a defect).
  await eventually("a leader for the health bucket", () =>
    cluster.streamLeader(`KV_${HEALTH_BUCKET}`).catch((error: unknown) => {
      throw new NotYet(String(error));
    }),
  );

  // The counts are eventually consistent: a worker's snapshot write that failed while JetStream
  // elected leaders is written again at its next flush (`health.flush_interval_ms`).
  await eventually("both workers' counts in the health bucket", async () => {
    const health = await client.getProviderHealth(
      { provider_id: "p0" },
      { timeoutMs: HEALTH_QUERY_TIMEOUT_MS },
    );
    const count = "request_count" in health ? health.request_count : -1;
    if (count <= 50) throw new NotYet(`request_count ${count}`);
  });

  // From then on every health query answers within a short deadline, first time, with the node
  // still down: the service reads the bucket without a consumer (stream info, direct gets). Before,
  // `kv.keys()` made an ephemeral consumer, which nats-server < 2.12 may place on the lost node
  // (nats-io/nats-server#7165), and about every other query waited out a 5 s KV timeout.
  for (let query = 0; query < HEALTH_QUERIES; query++) {
    const health = await client.getProviderHealth(
      { provider_id: "p0" },
      { timeoutMs: HEALTH_QUERY_TIMEOUT_MS },
    );
    // Counts from the bucket (every worker's window merged), not only the answering worker's.
    expect(health).toMatchObject({ provider_id: "p0", is_healthy: true, error_count: 0 });
    expect("request_count" in health ? health.request_count : -1).toBeGreaterThan(50);
  }

  // Both workers' entries are in the bucket (listed the way the service lists them).
  const jsm = await jetstreamManager(caller, { timeout: 2_000 });
  const info = await jsm.streams.info(`KV_${HEALTH_BUCKET}`, {
    subjects_filter: `$KV.${HEALTH_BUCKET}.${toKvToken("p0")}.*`,
  });
  expect(Object.keys(info.state.subjects ?? {}).length).toBeGreaterThanOrEqual(2);
}

/** Errors the workers logged (pino level ≥ 50); any fails the test. */
function workerErrors(): string[] {
  const errors: string[] = [];
  for (const worker of workers) {
    for (const line of worker.output().split("\n")) {
      if (!line.startsWith("{")) continue;
      let entry: { level?: number; msg?: string; subject?: string; err?: { message?: string } };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        continue; // the last line may still be being written
      }
      if ((entry.level ?? 0) >= 50) errors.push(`${worker.name}: ${line}`);
    }
  }
  return errors;
}

/** `count` workers answer `$SRV.PING` (one whose node died has reconnected elsewhere). */
async function expectWorkersServing(count = 2): Promise<void> {
  const deadline = Date.now() + 15_000;
  let seen = 0;
  while (Date.now() < deadline) {
    seen = await countWorkers(caller, 500);
    if (seen === count) return;
    if (seen === 0) await sleep(100);
  }
  expect(seen).toBe(count);
}

/**
 * Until the worker holds a request, by its `$SRV.STATS`: the server gives each request to a
 * queue member at random, so the loops' requests were all at the other worker 1 time in 64.
 */
async function untilHolding(worker: Worker): Promise<void> {
  const serviceId = /"service_id":"([^"]+)"/.exec(worker.output())?.[1];
  if (!serviceId) throw new Error(`worker ${worker.name} logged no service id`);
  const inFlight = async () => {
    const reply = await caller.request(`$SRV.STATS.${SERVICE_NAME}.${serviceId}`, "", { timeout: 1_000 });
    const stats = reply.json<{ endpoints: { data?: { process_in_flight?: number } }[] }>();
    return Math.max(0, ...stats.endpoints.map((endpoint) => endpoint.data?.process_in_flight ?? 0));
  };
  if ((await eventuallyValue(inFlight, (count) => count > 0, 5_000)) === 0)
    throw new Error(`worker ${worker.name} held no request for 5 s`);
}

/**
 * Runs `scenario` with node `index` to be lost in it, and brings the node back afterwards whatever
 * the outcome: a failed scenario must not leave the next ones a degraded cluster.
 */
async function withNodeRestored(index: number, scenario: () => Promise<void>): Promise<void> {
  try {
    await scenario();
  } finally {
    await cluster.restart(index);
    await cluster.waitForHealthy(STATE_STREAMS);
  }
}

describe("a 3-node JetStream cluster with two workers under load", () => {
  it("loses the node a worker is connected to: every request answered, every event stored once", async () => {
    await embedBeforeFault();
    await withNodeRestored(0, async () => {
      const result = await loadWhile("node-loss", async () => {
        await cluster.kill(0);
        await sleep(3_000);
      });
      expectCleanLoad(result);
      await expectStateReadable(); // with the node still down: R3 keeps a quorum
      await expectEventsExactlyOnce("node-loss", result.answered.keys());
      // Worker A did lose its node (and, below, serves again through another one).
      for (
        let waited = 0;
        waited < 5_000 && !workerA.output().includes("NATS connection lost");
        waited += 100
      )
        await sleep(100);
      expect(workerA.output(), workerA.output().slice(-3_000)).toContain("NATS connection lost");
      await expectWorkersServing();

      // A worker started while the node is down comes up and serves, having read the shared breaker
      // states (no consumer: a KV watch used to time out here about one start in three).
      const late = await startWorker("c", cluster.urls[2]!);
      expect(late.output()).not.toContain("circuit breaker states not read");
      await expectWorkersServing(3);
      const answeredByAll = await Promise.all(
        Array.from({ length: 12 }, (_, index) =>
          client.completeChat(
            { model: "model-0", messages: [{ role: "user", content: `late ${index}` }] },
            { timeoutMs: REQUEST_TIMEOUT_MS },
          ),
        ),
      );
      expect(answeredByAll.map((completion) => completion.content)).toEqual(
        Array.from({ length: 12 }, (_, index) => `echo: late ${index}`),
      );
      late.child.kill("SIGTERM");
      expect(await late.exited).toBe(0);
    });
    expect(workerErrors()).toEqual([]);
  }, 110_000);

  it("loses the event stream's leader: every request answered, every event stored once", async () => {
    await embedBeforeFault();
    const leader = await cluster.streamLeader(EVENT_STREAM);
    await withNodeRestored(leader, async () => {
      const result = await loadWhile("leader-loss", async () => {
        await cluster.kill(leader);
        await sleep(3_000);
      });
      expectCleanLoad(result);
      await expectStateReadable();
      await expectEventsExactlyOnce("leader-loss", result.answered.keys());
      expect(await cluster.streamLeader(EVENT_STREAM)).not.toBe(leader);
      await expectWorkersServing();
    });
    expect(workerErrors()).toEqual([]);
  }, 90_000);

  it("loses a worker: its in-flight requests fail within the caller's deadline, the other answers the rest", async () => {
    const result = await loadWhile("worker-loss", async () => {
      await untilHolding(workerA);
      workerA.child.kill("SIGKILL");
      await workerA.exited;
      // Past the deadline of what A held, so that B alone then serves every loop for a while.
      await sleep(REQUEST_TIMEOUT_MS + 500);
    });
    const killedAtMs = result.faultAtMs;
    // Includes: B answered the rest (the load went on after the kill), and no attempt waited past
    // the deadline (plus slack).
    expectCleanLoad(result);
    // Worker A held requests when it died: nobody answers them, so they time out for the caller…
    const lost = result.failures.filter((failure) => failure.code === "request_timeout");
    expect(result.failures).toEqual(lost);
    expect(lost.length).toBeGreaterThanOrEqual(1);
    expect(lost.length).toBeLessThanOrEqual(CONCURRENCY); // one per loop at most: retries go to B
    for (const failure of lost) {
      // …sent before, or within moments of, the kill (then the server knew A was gone)…
      expect(failure.atMs - failure.waitedMs).toBeLessThan(killedAtMs + 1_000);
      // …and the caller's retry with the same id was answered (by B).
      expect(result.answered.get(failure.id)).toBeGreaterThan(failure.atMs);
    }
    expect(await workerA.exited).toBeNull(); // killed by the signal, not exited
    expect(workerErrors()).toEqual([]);
  }, 70_000);

  it("loses the event stream's leader, then a worker before the election ends: no answered request loses its event", async () => {
    // A's successor, on another node; the replies it sent must all have their events stored.
    const doomed = await startWorker("d", cluster.urls[2]!);
    await expectWorkersServing(
      workers.filter((worker) => worker.child.exitCode === null && !worker.child.killed).length,
    );
    const leader = await cluster.streamLeader(EVENT_STREAM);
    await withNodeRestored(leader, async () => {
      const result = await loadWhile("leader-then-worker", async () => {
        await untilHolding(doomed);
        await cluster.kill(leader);
        await sleep(1_500); // the election is still on: events queue at the workers
        doomed.child.kill("SIGKILL");
        await doomed.exited;
        await sleep(REQUEST_TIMEOUT_MS + 500);
      });
      expectCleanLoad(result);
      // Every request the caller got an answer for has its event, exactly once: a worker holds a
      // reply until its event is stored (events.delivery before_reply), so a worker that dies takes
      // unanswered requests with it (the caller retries them), never answered ones' events.
      await expectEventsExactlyOnce("leader-then-worker", result.answered.keys());
    });
    expect(workerErrors()).toEqual([]);
  }, 90_000);
});
