// Closed-loop load: N workers, each sending its next request when the previous reply arrives,
// until a request count or a time limit is reached. Latencies are kept whole (µs precision).

/** Sends one request; resolves on a successful reply, rejects on anything else. */
export type SendRequest = () => Promise<void>;

export interface LoadBounds {
  /** No request is started after this many ms. */
  maxMs: number;
  /** No more than this many requests are started. */
  maxRequests: number;
}

export interface LoadResult {
  /** Completed requests, successful or not. */
  requests: number;
  errors: number;
  firstError: string | undefined;
  /** From the first request sent to the last reply received. */
  elapsedMs: number;
  /** Latency of every successful request in ms, sorted ascending. */
  latenciesMs: Float64Array;
}

/** Times requests and counts failures; what both load shapes (closed loop, fixed rate) share. */
export function createLoadRecorder(maxRequests: number) {
  const latencies = new Float64Array(maxRequests);
  const startedAt = performance.now();
  let succeeded = 0;
  let errors = 0;
  let firstError: string | undefined;
  return {
    startedAt,
    /** Sends one request and records its latency, or its failure. Never rejects. */
    async record(send: SendRequest): Promise<void> {
      const sentAt = performance.now();
      try {
        await send();
        latencies[succeeded++] = performance.now() - sentAt;
      } catch (error) {
        errors++;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    },
    result(): LoadResult {
      return {
        requests: succeeded + errors,
        errors,
        firstError,
        elapsedMs: performance.now() - startedAt,
        latenciesMs: latencies.subarray(0, succeeded).sort(),
      };
    },
  };
}

export async function runClosedLoop(
  send: SendRequest,
  concurrency: number,
  bounds: LoadBounds,
  signal: AbortSignal,
): Promise<LoadResult> {
  const recorder = createLoadRecorder(bounds.maxRequests);
  const deadline = recorder.startedAt + bounds.maxMs;
  let started = 0;
  const mayStartAnother = (): boolean =>
    started < bounds.maxRequests && !signal.aborted && performance.now() < deadline;

  async function worker(): Promise<void> {
    while (mayStartAnother()) {
      started++;
      await recorder.record(send);
    }
  }

  await Promise.all(Array.from({ length: concurrency }, worker));
  return recorder.result();
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles of sorted latencies; NaN when there are none. */
export function summarizeLatencies(sortedMs: Float64Array): LatencySummary {
  return {
    p50: percentile(sortedMs, 50),
    p90: percentile(sortedMs, 90),
    p99: percentile(sortedMs, 99),
    max: sortedMs.length > 0 ? (sortedMs[sortedMs.length - 1] ?? Number.NaN) : Number.NaN,
  };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}
