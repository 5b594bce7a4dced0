import type { NatsConnection } from "@nats-io/nats-core";
import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import type { Attempt } from "@llm-provider/contracts";
import type { Logger } from "pino";
import { HealthWindow, mergeHealthSnapshots } from "../domain/provider-health.js";
import type { HealthSnapshot } from "../domain/provider-health.js";
import type { HealthRecorder } from "../handlers/health-recorder.js";
import { toKvToken } from "./kv-token.js";

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
}

export interface KvHealthCache extends HealthRecorder {
  /** Every worker's recent snapshot of one provider, merged (eventually consistent, as the seed says). */
  read(providerId: string): Promise<HealthSnapshot>;
  /** Writes what is pending and stops the timer. */
  close(): Promise<void>;
}

/**
 * The HealthCache: each worker keeps a sliding window per provider in memory, and every
 * `flushIntervalMs` writes the snapshots that changed to a KV bucket with a TTL under
 * `<provider>.<worker>`; readers merge all workers' entries of a provider.
 */
export async function createKvHealthCache(options: KvHealthCacheOptions): Promise<KvHealthCache> {
  // Created by ensureJetStreamState (TTL = options.ttlMs).
  const kv: KV = await new Kvm(options.nc).open(options.bucket);
  const windows = new Map<string, HealthWindow>();
  const dirty = new Set<string>();
  const lastWritten = new Map<string, number>();

  function windowOf(providerId: string): HealthWindow {
    let window = windows.get(providerId);
    if (!window) windows.set(providerId, (window = new HealthWindow(options.windowMs)));
    return window;
  }

  async function flush(): Promise<void> {
    const now = Date.now();
    // Changed entries, and (to keep them alive under the TTL) any not written for half of it.
    for (const [providerId] of windows) {
      if ((lastWritten.get(providerId) ?? 0) < now - options.ttlMs / 2) dirty.add(providerId);
    }
    const pending = [...dirty];
    dirty.clear();
    await Promise.all(
      pending.map(async (providerId) => {
        const snapshot = windowOf(providerId).snapshot(now);
        try {
          await kv.put(`${toKvToken(providerId)}.${options.workerId}`, JSON.stringify(snapshot));
          lastWritten.set(providerId, now);
        } catch (error) {
          dirty.add(providerId); // try again next round
          options.logger.warn(
            { provider_id: providerId, err: (error as Error).message },
            "health cache write failed",
          );
        }
      }),
    );
  }

  const timer = setInterval(() => void flush(), options.flushIntervalMs);
  timer.unref();

  return {
    recordAttempts(attempts: readonly Attempt[]) {
      const now = Date.now();
      for (const attempt of attempts) {
        if (attempt.outcome === "skipped") continue; // not a call: says nothing new about the provider
        windowOf(attempt.provider_id).record(now, {
          ok: attempt.outcome === "success",
          latencyMs: attempt.latency_ms,
          ...(attempt.error_code ? { error: attempt.error_code } : {}),
          rateLimited: attempt.error_code === "rate_limited",
        });
        dirty.add(attempt.provider_id);
      }
    },
    async read(providerId) {
      const snapshots: HealthSnapshot[] = [];
      const keys = await kv.keys(`${toKvToken(providerId)}.*`);
      for await (const key of keys) {
        const entry = await kv.get(key);
        if (entry && entry.operation === "PUT" && entry.value.length > 0)
          snapshots.push(entry.json<HealthSnapshot>());
      }
      return mergeHealthSnapshots(snapshots);
    },
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}
