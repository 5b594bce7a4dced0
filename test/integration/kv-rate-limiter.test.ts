// The KV rate limiter at its port, against a real nats-server, with the minutes turned by the test:
// two limiters on two connections are two workers sharing one bucket, and every count is exact
// whatever the wall clock does.
import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ensureKvBucket } from "../../services/llm-provider/src/infra/kv/ensure-kv-bucket.js";
import {
  createKvRateLimiter,
  RATE_LIMIT_ENTRY_TTL_MS,
} from "../../services/llm-provider/src/infra/kv/kv-rate-limiter.js";
import { toKvToken } from "../../services/llm-provider/src/infra/kv/kv-token.js";
import { createCallerLimits } from "../../services/llm-provider/src/routing/caller-limits.js";
import type { RateLimiter, RateLimits } from "../../services/llm-provider/src/ports/rate-limiter.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";

const BUCKET = "limiter_rates";
const WINDOW_MS = 60_000;
/** A window start; the tests begin one second into it. */
const FIRST_WINDOW = 1_000 * WINDOW_MS;

let nats: NatsServerHandle;
const connections: NatsConnection[] = [];
let kv: KV;
let now = FIRST_WINDOW;
/** Two workers: their own connection and leases, one shared bucket, the test's clock. */
let a: RateLimiter;
let b: RateLimiter;

beforeAll(async () => {
  nats = await startNatsServer();
  const open = async () => {
    const nc = await connect({ servers: nats.url });
    connections.push(nc);
    return nc;
  };
  const nc = await open();
  await ensureKvBucket(nc, { bucket: BUCKET, replicas: 1, ttlMs: RATE_LIMIT_ENTRY_TTL_MS });
  kv = await new Kvm(nc).open(BUCKET);
  const worker = async () =>
    createKvRateLimiter({
      nc: await open(),
      bucket: BUCKET,
      logger: pino({ level: "silent" }),
      now: () => now,
    });
  [a, b] = [await worker(), await worker()];
});

afterAll(async () => {
  for (const nc of connections) await nc.close();
  await nats?.stop();
});

// Each test counts under budgets of its own, so only the clock needs resetting.
beforeEach(() => {
  now = FIRST_WINDOW + 1_000;
});

/** The window's shared count, as every worker sees it. */
async function sharedCount(budget: string, window = FIRST_WINDOW) {
  const entry = await kv.get(`${toKvToken(budget)}.${window}`);
  return entry && entry.value.length > 0 ? entry.json<{ requests: number; tokens: number }>() : undefined;
}

/** `count` calls estimated at `estimate` tokens, alternately on each worker, each settled at `used` when given. */
async function calls(budget: string, limits: RateLimits, count: number, estimate: number, used?: number) {
  const admitted: boolean[] = [];
  for (let index = 0; index < count; index++) {
    const worker = index % 2 === 0 ? a : b;
    const startedAt = now;
    const ok = await worker.acquire(budget, limits, estimate);
    admitted.push(ok);
    if (ok && used !== undefined) {
      await worker.settle(budget, limits, { estimatedTokens: estimate, actualTokens: used, startedAt });
    }
  }
  return admitted;
}

describe("RPM across workers", () => {
  it("lets exactly the limit through across two workers, then refuses until the next window", async () => {
    const limits = { rpm: 5 };
    expect(await calls("rpm-exact", limits, 8, 0)).toEqual([
      true,
      true,
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
    expect(await sharedCount("rpm-exact")).toEqual({ requests: 5, tokens: 0 });
    expect(await a.status("rpm-exact", limits)).toBe("BLOCKED");
    expect(await b.status("rpm-exact", limits)).toBe("BLOCKED");
    expect(a.retryAfterMs("rpm-exact")).toBe(WINDOW_MS - 1_000);

    now += WINDOW_MS;
    expect(await calls("rpm-exact", limits, 2, 0)).toEqual([true, true]);
    expect(await sharedCount("rpm-exact", FIRST_WINDOW + WINDOW_MS)).toEqual({ requests: 2, tokens: 0 });
    expect(await a.status("rpm-exact", limits)).toBe("OK");
  });

  it("is THROTTLED from 80 % of the window's shared count", async () => {
    const limits = { rpm: 10 };
    await calls("rpm-share", limits, 7, 0);
    expect(await b.status("rpm-share", limits)).toBe("OK");
    await calls("rpm-share", limits, 1, 0);
    expect(await b.status("rpm-share", limits)).toBe("THROTTLED");
  });
});

describe("TPM settled with the provider's count", () => {
  it("gives back what a call did not use, so more calls fit in the window", async () => {
    const limits = { tpm: 1_000 };
    // Unsettled, estimates of 100 tokens spend the budget in 10 calls.
    expect((await calls("tpm-unsettled", limits, 11, 100)).filter(Boolean)).toHaveLength(10);
    // Settled at the 10 tokens each really used, twice as many calls go through with room to spare.
    expect((await calls("tpm-settled", limits, 20, 100, 10)).every(Boolean)).toBe(true);
    // The shared count is what was reserved, not the 2 000 the estimates add up to: each worker
    // reserved 100 twice, and holds 100 of it unspent after its 10 calls of 10 tokens.
    expect(await sharedCount("tpm-settled")).toEqual({ requests: 0, tokens: 200 + 2 * 100 });
  });

  it("takes what a call used beyond its estimate, past the limit only by tokens really used", async () => {
    const limits = { tpm: 1_000 };
    const startedAt = now;
    // 10 estimated (a lease of 50 reserved), 400 used: the 350 the lease cannot cover are added.
    expect(await a.acquire("tpm-over", limits, 10)).toBe(true);
    await a.settle("tpm-over", limits, { estimatedTokens: 10, actualTokens: 400, startedAt });
    expect(await sharedCount("tpm-over")).toEqual({ requests: 0, tokens: 400 });
    // The other worker's call used 700: counted although only 550 were left.
    expect(await b.acquire("tpm-over", limits, 10)).toBe(true);
    await b.settle("tpm-over", limits, { estimatedTokens: 10, actualTokens: 700, startedAt });
    expect(await sharedCount("tpm-over")).toEqual({ requests: 0, tokens: 1_100 });
    // Spent for both workers until the next window.
    expect(await a.acquire("tpm-over", limits, 10)).toBe(false);
    expect(await b.acquire("tpm-over", limits, 10)).toBe(false);
    expect(await a.status("tpm-over", limits)).toBe("BLOCKED");
    now += WINDOW_MS;
    expect(await a.acquire("tpm-over", limits, 10)).toBe(true);
  });

  it("takes an overrun from the lease first, writing nothing while the lease covers it", async () => {
    const limits = { tpm: 1_000 };
    const startedAt = now;
    expect(await a.acquire("tpm-covered", limits, 10)).toBe(true); // a lease of 50, 40 left
    await a.settle("tpm-covered", limits, { estimatedTokens: 10, actualTokens: 50, startedAt });
    expect(await sharedCount("tpm-covered")).toEqual({ requests: 0, tokens: 50 });
    // The lease is spent: the next call reserves again.
    expect(await a.acquire("tpm-covered", limits, 10)).toBe(true);
    expect(await sharedCount("tpm-covered")).toEqual({ requests: 0, tokens: 100 });
  });

  it("gives nothing back once the minute turned: the new window never counted the estimate", async () => {
    const limits = { tpm: 1_000 };
    const startedAt = now;
    expect(await a.acquire("tpm-turn", limits, 100)).toBe(true);
    now += WINDOW_MS;
    await a.settle("tpm-turn", limits, { estimatedTokens: 100, actualTokens: 10, startedAt });
    // Had the 90 gone to the new window's lease, this call would not have reserved.
    expect(await a.acquire("tpm-turn", limits, 40)).toBe(true);
    expect(await sharedCount("tpm-turn", FIRST_WINDOW + WINDOW_MS)).toEqual({ requests: 0, tokens: 50 });
    expect(await sharedCount("tpm-turn")).toEqual({ requests: 0, tokens: 100 });
    // An overrun is counted in the window the answer came back in.
    await a.settle("tpm-turn", limits, { estimatedTokens: 100, actualTokens: 130, startedAt });
    expect(await sharedCount("tpm-turn", FIRST_WINDOW + WINDOW_MS)).toEqual({ requests: 0, tokens: 70 });
  });
});

describe("caller budgets", () => {
  it("replace a request's admitted estimate with what it used", async () => {
    const callers = createCallerLimits(a, (caller) => (caller === "ingest" ? { tpm: 1_000 } : undefined));
    const request = async (caller: string, estimatedTokens: number, actualTokens: number) => {
      const startedAt = now;
      await callers.admit(caller, estimatedTokens);
      await callers.settle(caller, { estimatedTokens, actualTokens, startedAt });
    };
    // Unsettled, a third estimate of 400 would not fit in 1 000; settled at 20 each, five do.
    for (let index = 0; index < 5; index++) await request("ingest", 400, 20);
    // Reserved 400 twice: 100 used, 700 left in the lease.
    expect(await sharedCount("caller:ingest")).toEqual({ requests: 0, tokens: 800 });
    // Unsettled, a request spends its estimate as before: one more fits in the lease, then no more.
    await callers.admit("ingest", 400);
    await expect(callers.admit("ingest", 400)).rejects.toMatchObject({
      code: "rate_limited",
      details: { caller: "ingest" },
    });
    // A caller without limits is not counted at all.
    await request("query", 400, 20);
    expect(await sharedCount("caller:query")).toBeUndefined();
  });
});
