// Open-loop load: requests start at a fixed rate whatever the replies do, until a request count
// or a time limit is reached. Two variants of the service compared at the same rate do the same
// work per event-loop turn; compared at saturation (closed loop), the slower variant also
// batches less per turn, which makes the difference look larger than what the variant adds.
import { createLoadRecorder } from "./closed-loop.js";
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
  const recorder = createLoadRecorder(bounds.maxRequests);
  const startedAt = recorder.startedAt;
  const deadline = startedAt + bounds.maxMs;
  let started = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let ticksAtCap = 0;
  const settled: Promise<void>[] = [];

  async function one(): Promise<void> {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await recorder.record(send);
    inFlight--;
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
    ...recorder.result(),
    offeredPerSecond: perSecond,
    maxInFlight,
    ticksAtCap,
  };
}
