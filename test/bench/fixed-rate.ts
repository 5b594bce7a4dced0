// Open-loop load: requests start at a fixed rate whatever the replies do, until a request count
// or a time limit is reached. Two variants of the service compared at the same rate do the same
// work per event-loop turn; compared at saturation (closed loop), the slower variant also
// batches less per turn, which makes the difference look larger than what the variant adds.
import type { LoadBounds, LoadResult, SendRequest } from "./closed-loop.js";

export interface FixedRateResult extends LoadResult {
  /** Requests started per second, as offered. */
  offeredPerSecond: number;
  /** Most requests in flight at once. */
  maxInFlight: number;
  /** Ticks at which requests due could not start because the in-flight cap was reached: rate not held. */
  ticksAtCap: number;
}

/** Above this many requests in flight the target is not keeping up; the rest start late. */
const IN_FLIGHT_CAP = 1_024;
/** Requests are started in small groups, each when its time has come (timers do not fire finer). */
const TICK_MS = 1;

export async function runAtFixedRate(
  send: SendRequest,
  perSecond: number,
  bounds: LoadBounds,
  signal: AbortSignal,
): Promise<FixedRateResult> {
  const latencies = new Float64Array(bounds.maxRequests);
  let started = 0;
  let succeeded = 0;
  let errors = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let ticksAtCap = 0;
  let firstError: string | undefined;
  const settled: Promise<void>[] = [];
  const startedAt = performance.now();
  const deadline = startedAt + bounds.maxMs;

  async function one(): Promise<void> {
    const sentAt = performance.now();
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      await send();
      latencies[succeeded++] = performance.now() - sentAt;
    } catch (error) {
      errors++;
      firstError ??= error instanceof Error ? error.message : String(error);
    } finally {
      inFlight--;
    }
  }

  while (!signal.aborted && started < bounds.maxRequests) {
    const now = performance.now();
    if (now >= deadline) break;
    const due = Math.min(bounds.maxRequests, Math.floor(((now - startedAt) * perSecond) / 1000));
    for (; started < due; started++) {
      if (inFlight >= IN_FLIGHT_CAP) {
        ticksAtCap++;
        break;
      }
      settled.push(one());
    }
    await new Promise((resolve) => setTimeout(resolve, TICK_MS));
  }
  await Promise.all(settled);
  return {
    requests: succeeded + errors,
    errors,
    firstError,
    elapsedMs: performance.now() - startedAt,
    latenciesMs: latencies.subarray(0, succeeded).sort(),
    offeredPerSecond: perSecond,
    maxInFlight,
    ticksAtCap,
  };
}
