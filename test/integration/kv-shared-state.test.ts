// The HealthCache and the shared circuit breakers on a real nats-server, read without any
// JetStream consumer (nats-server < 2.12 may place an ephemeral consumer on a lost node,
// nats-io/nats-server#7165): keys by stream info, values by direct gets, breaker changes by a core
// subscription plus a periodic re-read of the bucket.
import { createServer, connect as tcpConnect } from "node:net";
import type { Server, Socket } from "node:net";
import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import type { Attempt } from "@llm-provider/contracts";
import { pino } from "pino";
import type { Logger } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FailureClass } from "../../services/llm-provider/src/domain/failure.js";
import { ensureKvBucket } from "../../services/llm-provider/src/infra/kv/ensure-kv-bucket.js";
import { createKvBreakerBoard } from "../../services/llm-provider/src/infra/kv/kv-breaker-board.js";
import type {
  KvBreakerBoard,
  KvBreakerBoardOptions,
} from "../../services/llm-provider/src/infra/kv/kv-breaker-board.js";
import { createKvBucketReader } from "../../services/llm-provider/src/infra/kv/kv-bucket-reader.js";
import { createKvHealthCache } from "../../services/llm-provider/src/infra/kv/kv-health-cache.js";
import type { KvHealthCache } from "../../services/llm-provider/src/infra/kv/kv-health-cache.js";
import { toKvToken } from "../../services/llm-provider/src/infra/kv/kv-token.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { until } from "../support/until.js";

const HEALTH_BUCKET = "test_health";
const BREAKERS_BUCKET = "test_breakers";
const silent = pino({ level: "silent" });

let nats: NatsServerHandle;
let nc: NatsConnection;
const closers: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  await ensureKvBucket(nc, { bucket: HEALTH_BUCKET, replicas: 1, ttlMs: 60_000 });
  await ensureKvBucket(nc, { bucket: BREAKERS_BUCKET, replicas: 1 });
});

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await nc?.close();
  await nats?.stop();
});

/** No consumer on the bucket's stream: what the reads must not need. */
async function consumersOf(bucket: string): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info(`KV_${bucket}`)).state.consumer_count;
}

function healthCache(workerId: string): Promise<KvHealthCache> {
  return createKvHealthCache({
    nc,
    bucket: HEALTH_BUCKET,
    workerId,
    windowMs: 60_000,
    flushIntervalMs: 60_000, // written by close() in these tests
    ttlMs: 60_000,
    logger: silent,
  });
}

const attempts = (providerId: string, ok: number, failed: number): Attempt[] => [
  ...Array.from({ length: ok }, () => ({
    provider_id: providerId,
    model: "m",
    outcome: "success" as const,
    latency_ms: 10,
  })),
  ...Array.from({ length: failed }, () => ({
    provider_id: providerId,
    model: "m",
    outcome: "error" as const,
    error_code: "server_error",
    latency_ms: 20,
  })),
];

describe("KV bucket reader", () => {
  it("lists keys by pattern and reads their latest values, leaving deleted keys out", async () => {
    const bucket = "test_reader";
    await ensureKvBucket(nc, { bucket, replicas: 1 });
    const kv = await new Kvm(nc).open(bucket);
    const reader = createKvBucketReader(nc, { bucket, timeoutMs: 2_000 });
    expect(await reader.keys()).toEqual([]);
    expect(await reader.entries("a.*")).toEqual([]);
    await kv.put("a.1", "one");
    await kv.put("a.1", "one again");
    await kv.put("a.2", "two");
    await kv.put("a.2.x", "deeper");
    await kv.put("ab.1", "other");
    await kv.put("a.3", "three");
    await kv.delete("a.3");
    expect((await reader.keys("a.*")).sort()).toEqual(["a.1", "a.2", "a.3"]); // a.3: its DEL marker
    const entries = await reader.entries("a.*");
    expect(Object.fromEntries(entries.map((e) => [e.key, new TextDecoder().decode(e.value)]))).toEqual({
      "a.1": "one again",
      "a.2": "two",
    });
    expect(entries.find((e) => e.key === "a.1")?.revision).toBe(2);
    expect((await reader.entries()).map((e) => e.key).sort()).toEqual(["a.1", "a.2", "a.2.x", "ab.1"]);
    expect(await consumersOf(bucket)).toBe(0);
  });
});

describe("KV health cache", () => {
  it("reads an empty bucket as no traffic", async () => {
    const cache = await healthCache("w0");
    closers.push(() => cache.close());
    expect(await cache.read("nobody")).toMatchObject({ requests: 0, errors: 0, lastErrorAt: null });
  });

  it("merges every worker's entries of a provider, and only that provider's", async () => {
    // base64url("abc") = "YWJj" is a prefix of base64url("abcdef") = "YWJjZGVm".
    expect(toKvToken("abcdef").startsWith(toKvToken("abc"))).toBe(true);
    const one = await healthCache("w1");
    const two = await healthCache("w2");
    one.recordAttempts([...attempts("abc", 3, 1), ...attempts("abcdef", 5, 0)]);
    two.recordAttempts([...attempts("abc", 2, 2), ...attempts("a.b", 1, 0)]);
    await one.close(); // writes what is pending
    await two.close();
    const reader = await healthCache("reader");
    closers.push(() => reader.close());
    expect(await reader.read("abc")).toMatchObject({ requests: 8, errors: 3, latencySumMs: 110 });
    expect(await reader.read("abcdef")).toMatchObject({ requests: 5, errors: 0 });
    expect(await reader.read("a.b")).toMatchObject({ requests: 1, errors: 0 });
    expect(await reader.read("ab")).toMatchObject({ requests: 0 });
    expect(await consumersOf(HEALTH_BUCKET)).toBe(0);
  });

  it("ignores an entry that is no snapshot instead of failing the read", async () => {
    const one = await healthCache("w-good");
    one.recordAttempts(attempts("mixed", 4, 1));
    await one.close();
    const kv = await new Kvm(nc).open(HEALTH_BUCKET);
    await kv.put(`${toKvToken("mixed")}.w-foreign`, "not json");
    await kv.put(`${toKvToken("mixed")}.w-shape`, JSON.stringify({ requests: "many" }));
    const reader = await healthCache("reader-2");
    closers.push(() => reader.close());
    expect(await reader.read("mixed")).toMatchObject({ requests: 5, errors: 1 });
  });
});

/** A logger whose warnings the test can read. */
function capturingLogger(): { logger: Logger; warnings: () => string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      lines.push(chunk.toString());
      done();
    },
  });
  return {
    logger: pino({ level: "warn" }, sink),
    warnings: () => lines.map((line) => (JSON.parse(line) as { msg: string }).msg),
  };
}

async function board(
  workerId: string,
  overrides: Partial<KvBreakerBoardOptions> = {},
): Promise<KvBreakerBoard> {
  const created = await createKvBreakerBoard({
    nc,
    bucket: BREAKERS_BUCKET,
    workerId,
    policy: { failureThreshold: 1, cooldownMs: 60_000 },
    logger: silent,
    ...overrides,
  });
  closers.push(() => created.close());
  return created;
}

const sharedState = (state: string, by: string, openedAt = Date.now()) =>
  JSON.stringify({ state, opened_at: openedAt, by });

/**
 * A TCP proxy in front of the server, to cut one client off: "down" drops its connections and
 * refuses new ones (the client sees a disconnect and reconnects later); "deaf" silently drops what
 * the server sends (the client sees nothing and stays connected); `dropRequestsContaining` drops
 * what the client sends when it contains that text (its requests go unanswered).
 */
async function startProxy(port: number) {
  const sockets = new Set<Socket>();
  let mode: "up" | "down" | "deaf" = "up";
  let dropped: string | undefined;
  const server: Server = createServer((client) => {
    if (mode === "down") return client.destroy();
    const upstream = tcpConnect(port, "127.0.0.1");
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", () => undefined);
      socket.on("close", () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on("data", (chunk: Buffer) => {
      if (dropped === undefined || !chunk.includes(dropped)) upstream.write(chunk);
    });
    upstream.on("data", (chunk) => {
      if (mode === "up") client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const proxyPort = (server.address() as { port: number }).port;
  return {
    url: `nats://127.0.0.1:${proxyPort}`,
    setMode(next: "up" | "down" | "deaf") {
      mode = next;
      if (next === "down") for (const socket of sockets) socket.destroy();
    },
    dropRequestsContaining(text: string | undefined) {
      dropped = text;
    },
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe("KV breaker board", () => {
  let kv: KV;
  beforeAll(async () => {
    kv = await new Kvm(nc).open(BREAKERS_BUCKET);
  });

  it("takes over the states other workers wrote before it started", async () => {
    await kv.put(toKvToken("pre-open"), sharedState("open", "someone"));
    await kv.put(toKvToken("pre-closed"), sharedState("closed", "someone"));
    await kv.put(toKvToken("pre-probed"), sharedState("half_open", "someone"));
    await kv.put(toKvToken("pre-deleted"), sharedState("open", "someone"));
    await kv.delete(toKvToken("pre-deleted"));
    await kv.put(toKvToken("pre-own"), sharedState("open", "late")); // its own, from an earlier life
    const late = await board("late");
    expect(late.isOpen("pre-open")).toBe(true);
    expect(late.retryAfterMs("pre-open")).toBeGreaterThan(50_000);
    expect(late.isOpen("pre-probed")).toBe(true);
    expect(late.isOpen("pre-closed")).toBe(false);
    expect(late.isOpen("pre-deleted")).toBe(false);
    expect(late.isOpen("pre-own")).toBe(false);
    expect(await consumersOf(BREAKERS_BUCKET)).toBe(0);
  });

  it("takes over another worker's open and closed state through the subscription", async () => {
    const a = await board("a", { resyncIntervalMs: 3_600_000 });
    const b = await board("b", { resyncIntervalMs: 3_600_000 });
    a.report("live", FailureClass.serverError);
    expect(a.isOpen("live")).toBe(true);
    await until("b sees the breaker open", () => b.isOpen("live"));
    a.report("live", true);
    expect(a.isOpen("live")).toBe(false);
    await until("b sees the breaker closed", () => !b.isOpen("live"));
    // Failures that say nothing about the provider change nothing, anywhere.
    b.report("live", FailureClass.badRequest);
    await sleep(100);
    expect([a.isOpen("live"), b.isOpen("live")]).toEqual([false, false]);
    expect(await consumersOf(BREAKERS_BUCKET)).toBe(0);
  });

  it("lets exactly one worker claim the probe, though it sees the loser's refused claim too", async () => {
    // A core subscription also delivers a compare-and-set that JetStream refused.
    const one = await board("one", { resyncIntervalMs: 3_600_000 });
    const two = await board("two", { resyncIntervalMs: 3_600_000 });
    const providers = Array.from({ length: 20 }, (_, index) => `race-${index}`);
    for (const provider of providers)
      await kv.put(toKvToken(provider), sharedState("open", "other", Date.now() - 120_000)); // cooled down
    await until("both took the open states over", () =>
      providers.every((provider) => one.isOpen(provider) && two.isOpen(provider)),
    );
    for (const provider of providers) {
      const won = await Promise.all([one.admit(provider), two.admit(provider)]);
      expect(won.filter(Boolean), provider).toHaveLength(1);
      await sleep(20); // the claims are delivered
      // Nobody else gets a probe while it is out, the winner included.
      expect(await Promise.all([one.admit(provider), two.admit(provider)]), provider).toEqual([false, false]);
    }
  });

  it("catches up after a reconnect on what was written while it was disconnected", async () => {
    const proxy = await startProxy(nats.port);
    closers.push(() => proxy.close());
    const cut = await connect({ servers: proxy.url, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
    closers.push(() => cut.close());
    // No periodic re-read within the test: only the reconnect can bring the write.
    const behind = await board("behind", { nc: cut, resyncIntervalMs: 3_600_000 });
    expect(behind.isOpen("missed")).toBe(false);
    const reconnected = (async () => {
      for await (const status of cut.status()) if (status.type === "reconnect") return;
    })();
    proxy.setMode("down");
    await kv.put(toKvToken("missed"), sharedState("open", "other"));
    await sleep(300);
    expect(behind.isOpen("missed")).toBe(false); // it could not have heard of it
    proxy.setMode("up");
    await reconnected;
    await until("the write made while disconnected is taken over", () => behind.isOpen("missed"));
  });

  it("catches up by its periodic re-read on a write its subscription never delivered", async () => {
    const proxy = await startProxy(nats.port);
    closers.push(() => proxy.close());
    const lossy = await connect({ servers: proxy.url, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
    closers.push(() => lossy.close());
    const statuses: string[] = [];
    void (async () => {
      for await (const status of lossy.status()) statuses.push(status.type);
    })();
    const deaf = await board("deaf", { nc: lossy, resyncIntervalMs: 500, readTimeoutMs: 1_000 });
    await kv.put(toKvToken("dropped"), sharedState("open", "other"));
    await until("open taken over", () => deaf.isOpen("dropped"));
    proxy.setMode("deaf");
    await kv.put(toKvToken("dropped"), sharedState("closed", "other"));
    await sleep(100); // delivered to the proxy, and dropped there
    proxy.setMode("up");
    expect(deaf.isOpen("dropped")).toBe(true);
    await until("the dropped write is taken over by a re-read", () => !deaf.isOpen("dropped"), 5_000);
    expect(statuses.filter((type) => type === "disconnect" || type === "reconnect")).toEqual([]);
  });

  it("ignores values that are no breaker state (logged once), and its own writes", async () => {
    const { logger, warnings } = capturingLogger();
    const watcher = await board("watcher", { logger, resyncIntervalMs: 100 });
    await kv.put("bm90LWEtcHJvdmlkZXI", "yes");
    await kv.put(toKvToken("p9"), JSON.stringify({ state: "sideways", by: "someone" }));
    await kv.put(toKvToken("mine"), sharedState("open", "watcher"));
    await kv.put(toKvToken("after"), sharedState("open", "other"));
    await until("a valid state after them is still taken over", () => watcher.isOpen("after"));
    await sleep(500); // several re-reads
    const ignored = warnings().filter((msg) => msg.includes("not a breaker state"));
    expect(ignored).toHaveLength(2);
    expect(watcher.isOpen("mine")).toBe(false);
    expect(watcher.isOpen("p9")).toBe(false);
    await kv.purge("bm90LWEtcHJvdmlkZXI");
    await kv.purge(toKvToken("p9"));
  });

  it("starts even when the bucket does not answer, and reads it later", async () => {
    const proxy = await startProxy(nats.port);
    closers.push(() => proxy.close());
    const slow = await connect({ servers: proxy.url, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
    closers.push(() => slow.close());
    const { logger, warnings } = capturingLogger();
    await kv.put(toKvToken("known-before"), sharedState("open", "other"));
    // The client's reply subscription for requests exists first (only requests are dropped, below).
    await (await jetstreamManager(slow)).streams.info(`KV_${BREAKERS_BUCKET}`);
    // Its listings of the bucket (stream info with a subjects filter) go unanswered.
    proxy.dropRequestsContaining("subjects_filter");
    const started = await createKvBreakerBoard({
      nc: slow,
      bucket: BREAKERS_BUCKET,
      workerId: "starting",
      policy: { failureThreshold: 1, cooldownMs: 60_000 },
      logger,
      resyncIntervalMs: 1_000,
      readTimeoutMs: 300,
    });
    closers.push(() => started.close());
    expect(started.isOpen("known-before")).toBe(false); // not read yet
    expect(warnings()).toContain("circuit breaker states not read from the bucket; trying again later");
    proxy.dropRequestsContaining(undefined);
    await until("read by the next re-read", () => started.isOpen("known-before"), 5_000);
  });
});
