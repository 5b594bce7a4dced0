import type { NatsConnection } from "@nats-io/nats-core";
import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import type { Attempt } from "@llm-provider/contracts";
import type { Logger } from "pino";
import { z } from "zod";
import { mergeHealthSnapshots } from "../../domain/provider-health.js";
import type { HealthSnapshot } from "../../domain/provider-health.js";
import type { HealthCache } from "../../ports/health-recorder.js";

export type { HealthCache };
import { createKvBucketReader } from "./kv-bucket-reader.js";
import type { KvEntry } from "./kv-bucket-reader.js";
import { toKvToken } from "./kv-token.js";
import { OwnHealthWindows } from "./own-health-windows.js";

export interface KvHealthCacheOptions {
  nc: NatsConnection;
  bucket: string;
  /** This worker's id (the micro service instance id): its entries are its own. */
  workerId: string;
  windowMs: number;
  /** How often a worker writes what changed: writes are batched, never one per request. */
  flushIntervalMs: number;
  /** Entry lifetime in the bucket; a worker that stopped writing drops out after it. */
  ttlMs: number;
  logger: Logger;
  /** How long a read of the bucket (key listing, then values) may wait for each answer. Default 5 s. */
  readTimeoutMs?: number;
}

const decoder = new TextDecoder();

/** The HealthCache on a NATS KV bucket. */
export type KvHealthCache = HealthCache;

/** The bucket as the cache uses it: the KV bucket in production, a map in unit tests. */
export interface HealthCacheStore {
  put(key: string, value: string): Promise<unknown>;
  /** The latest value of every key matching `pattern` (a key with NATS wildcards). */
  entries(pattern: string): Promise<KvEntry[]>;
  /** Called once the cache is closed, after its last write. */
  close?(): void;
}

export interface HealthCacheOptions extends Omit<KvHealthCacheOptions, "nc" | "bucket" | "readTimeoutMs"> {
  store: HealthCacheStore;
  /** Epoch ms; `Date.now` unless a test sets the time. */
  now?: () => number;
}

/** The other workers' entries of a provider as a successful read found them. */
interface ReadOfProvider {
  /** Worker id → its snapshot. */
  workers: Map<string, HealthSnapshot>;
  startedAt: number;
  answeredAt: number;
}

/**
 * The HealthCache: each worker keeps a sliding window per provider in memory, and every
 * `flushIntervalMs` writes the snapshots that changed to a KV bucket with a TTL under
 * `<provider>.<worker>`; readers merge all workers' entries of a provider. Reads use no consumer
 * (stream info lists the keys, direct gets read them): they answer while a node of the cluster is
 * down, also on nats-server < 2.12 — once the bucket has a leader; until then `lastKnown` is what
 * this worker can tell.
 */
export async function createKvHealthCache(options: KvHealthCacheOptions): Promise<KvHealthCache> {
  // Created by ensureJetStreamState (TTL = options.ttlMs).
  const kv: KV = await new Kvm(options.nc).open(options.bucket);
  const reader = createKvBucketReader(options.nc, {
    bucket: options.bucket,
    timeoutMs: options.readTimeoutMs,
  });
  return createHealthCache({
    ...options,
    store: {
      put: (key, value) => kv.put(key, value),
      entries: (pattern) => reader.entries(pattern),
    },
  });
}

/** The HealthCache over any store (see `createKvHealthCache`). */
export function createHealthCache(options: HealthCacheOptions): HealthCache {
  const { store } = options;
  const now = options.now ?? Date.now;
  const windows = new OwnHealthWindows({
    put: (key, value) => store.put(key, value),
    workerId: options.workerId,
    windowMs: options.windowMs,
    ttlMs: options.ttlMs,
    logger: options.logger,
    now,
  });
  /** Provider → what this worker's latest successful read of it found. */
  const lastRead = new Map<string, ReadOfProvider>();

  const timer = setInterval(() => void windows.flush(), options.flushIntervalMs);
  timer.unref();

  return {
    recordAttempts(attempts: readonly Attempt[]) {
      windows.record(attempts);
    },
    callStarted(providerId) {
      windows.countCall(providerId, 1);
    },
    callEnded(providerId) {
      windows.countCall(providerId, -1);
    },
    async read(providerId) {
      const startedAt = now();
      const workers = await readWorkerSnapshots(store, providerId, options.logger);
      // Reads may overlap (a caller asks again while an earlier read still waits): the one sent
      // last is what is known, whichever answers last.
      const known = lastRead.get(providerId);
      if (!known || known.startedAt <= startedAt)
        lastRead.set(providerId, { workers, startedAt, answeredAt: now() });
      return mergeHealthSnapshots([...workers.values()]);
    },
    lastKnown(providerId) {
      const known = lastRead.get(providerId);
      const snapshots: HealthSnapshot[] = [];
      for (const [workerId, snapshot] of known?.workers ?? []) {
        // This worker's entry is its window as it was written; the window itself is newer.
        if (workerId !== options.workerId) snapshots.push(snapshot);
      }
      const ownNow = windows.snapshot(providerId);
      if (ownNow) snapshots.push(ownNow);
      return { snapshot: mergeHealthSnapshots(snapshots), readAt: known?.answeredAt ?? null };
    },
    async close() {
      clearInterval(timer);
      try {
        await windows.flush();
      } finally {
        store.close?.();
      }
    },
  };
}

/** Every worker's snapshot of a provider, by worker id. */
async function readWorkerSnapshots(
  store: HealthCacheStore,
  providerId: string,
  logger: Logger,
): Promise<Map<string, HealthSnapshot>> {
  // `<provider>.*`: exactly this provider's entries (one token per worker), not those of a
  // provider whose encoded id merely starts the same way.
  const prefix = `${toKvToken(providerId)}.`;
  const workers = new Map<string, HealthSnapshot>();
  for (const entry of await store.entries(`${prefix}*`)) {
    const snapshot = parseSnapshot(entry.value);
    // Only workers write here (NATS permissions); a foreign value must still not fail the read.
    if (snapshot) workers.set(entry.key.slice(prefix.length), snapshot);
    else if (entry.value.length > 0)
      logger.warn({ key: entry.key }, "ignored a health entry that is not a snapshot");
  }
  return workers;
}

/** What a worker writes: anything else in the bucket is ignored, not merged. */
const StoredSnapshotSchema = z.object({
  requests: z.number().int().nonnegative(),
  errors: z.number().int().nonnegative(),
  latencySumMs: z.number().nonnegative(),
  lastError: z.string().nullable(),
  lastErrorAt: z.number().nullable(),
  lastSuccessAt: z.number().nullable(),
  rateLimitedAt: z.number().nullable(),
  inFlight: z.number().int().nonnegative().optional(),
});

/** A worker's snapshot as stored, or undefined for anything else. */
function parseSnapshot(value: Uint8Array): HealthSnapshot | undefined {
  if (value.length === 0) return undefined;
  try {
    const parsed = StoredSnapshotSchema.safeParse(JSON.parse(decoder.decode(value)));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
