import type { Attempt } from "@llm-provider/contracts";
import type { Logger } from "pino";
import { HealthWindow } from "../../domain/provider-health.js";
import type { HealthSnapshot } from "../../domain/provider-health.js";
import { toKvToken } from "./kv-token.js";

export interface OwnHealthWindowsOptions {
  /** Writes one entry of the bucket. */
  put(key: string, value: string): Promise<unknown>;
  /** This worker's id: its entries are `<provider>.<workerId>`. */
  workerId: string;
  windowMs: number;
  /** Entry lifetime in the bucket: an entry not written for half of it is written again. */
  ttlMs: number;
  logger: Logger;
  /** Epoch ms. */
  now: () => number;
}

/**
 * This worker's sliding window per provider, and the writes of their snapshots to the bucket:
 * `flush` writes those that changed since the last write (and those the TTL would soon expire).
 */
export class OwnHealthWindows {
  private readonly windows = new Map<string, HealthWindow>();
  private readonly inFlight = new Map<string, number>();
  private readonly dirty = new Set<string>();
  private readonly lastWritten = new Map<string, number>();

  constructor(private readonly options: OwnHealthWindowsOptions) {}

  record(attempts: readonly Attempt[]): void {
    const at = this.options.now();
    for (const attempt of attempts) {
      if (attempt.outcome === "skipped") continue; // not a call: says nothing new about the provider
      this.windowOf(attempt.provider_id).record(at, {
        ok: attempt.outcome === "success",
        latencyMs: attempt.latency_ms,
        ...(attempt.error_code ? { error: attempt.error_code } : {}),
        rateLimited: attempt.error_code === "rate_limited",
      });
      this.dirty.add(attempt.provider_id);
    }
  }

  /** A call to the provider began (+1) or ended (-1): the gauge is written with the next flush. */
  countCall(providerId: string, change: 1 | -1): void {
    this.windowOf(providerId);
    this.inFlight.set(providerId, Math.max(0, (this.inFlight.get(providerId) ?? 0) + change));
    this.dirty.add(providerId);
  }

  /** The window of a provider now, or undefined when this worker has recorded none of its calls. */
  snapshot(providerId: string): HealthSnapshot | undefined {
    return this.windows.get(providerId) && this.snapshotAt(providerId, this.options.now());
  }

  private snapshotAt(providerId: string, at: number): HealthSnapshot {
    const inFlight = this.inFlight.get(providerId) ?? 0;
    const snapshot = this.windowOf(providerId).snapshot(at);
    return inFlight > 0 ? { ...snapshot, inFlight } : snapshot;
  }

  async flush(): Promise<void> {
    const { options } = this;
    const at = options.now();
    // Changed entries, and (to keep them alive under the TTL) any not written for half of it.
    for (const [providerId] of this.windows) {
      if ((this.lastWritten.get(providerId) ?? 0) < at - options.ttlMs / 2) this.dirty.add(providerId);
    }
    const pending = [...this.dirty];
    this.dirty.clear();
    await Promise.all(
      pending.map(async (providerId) => {
        const snapshot = this.snapshotAt(providerId, at);
        try {
          await options.put(`${toKvToken(providerId)}.${options.workerId}`, JSON.stringify(snapshot));
          this.lastWritten.set(providerId, at);
        } catch (error) {
          this.dirty.add(providerId); // try again next round
          options.logger.warn(
            { provider_id: providerId, err: (error as Error).message },
            "health cache write failed",
          );
        }
      }),
    );
  }

  private windowOf(providerId: string): HealthWindow {
    let window = this.windows.get(providerId);
    if (!window) this.windows.set(providerId, (window = new HealthWindow(this.options.windowMs)));
    return window;
  }
}
