/** Per-endpoint counters the service keeps itself (the framework does not count async work). */
interface Counters {
  requests: number;
  errors: number;
  errorsByCode: Record<string, number>;
  totalLatencyMs: number;
  /** Requests not served at all (their reply subject was not an inbox). */
  refused: number;
  /** `code: message` of the latest error answered. */
  lastError: string | undefined;
}

/** The framework's own fields of an endpoint in `$SRV.STATS` (processing times in ns). */
export interface FrameworkEndpointStats {
  num_requests: number;
  num_errors: number;
  last_error: string | undefined;
  processing_time: number;
  average_processing_time: number;
}

export class EndpointMetrics {
  readonly #counters = new Map<string, Counters>();

  constructor(subjects: readonly string[]) {
    for (const subject of subjects) {
      this.#counters.set(subject, {
        requests: 0,
        errors: 0,
        errorsByCode: {},
        totalLatencyMs: 0,
        refused: 0,
        lastError: undefined,
      });
    }
  }

  recordSuccess(subject: string, latencyMs: number): void {
    const counters = this.#counters.get(subject);
    if (!counters) return;
    counters.requests++;
    counters.totalLatencyMs += latencyMs;
  }

  recordError(subject: string, code: string, message: string, latencyMs: number): void {
    const counters = this.#counters.get(subject);
    if (!counters) return;
    counters.requests++;
    counters.errors++;
    counters.lastError = `${code}: ${message}`;
    counters.errorsByCode[code] = (counters.errorsByCode[code] ?? 0) + 1;
    counters.totalLatencyMs += latencyMs;
  }

  recordRefused(subject: string): void {
    const counters = this.#counters.get(subject);
    if (counters) counters.refused++;
  }

  /** The framework's fields of an endpoint in `$SRV.STATS`, from the requests answered. */
  frameworkStats(subject: string): FrameworkEndpointStats | undefined {
    const counters = this.#counters.get(subject);
    if (!counters) return undefined;
    const processingNs = Math.round(counters.totalLatencyMs * 1e6);
    return {
      num_requests: counters.requests,
      num_errors: counters.errors,
      last_error: counters.lastError,
      processing_time: processingNs,
      average_processing_time: counters.requests === 0 ? 0 : Math.round(processingNs / counters.requests),
    };
  }

  /** The `data` of an endpoint in `$SRV.STATS`. */
  snapshot(subject: string, inFlight: number): Record<string, unknown> {
    const counters = this.#counters.get(subject);
    if (!counters) return {};
    return {
      requests: counters.requests,
      errors: counters.errors,
      errors_by_code: { ...counters.errorsByCode },
      average_latency_ms: counters.requests === 0 ? 0 : counters.totalLatencyMs / counters.requests,
      process_in_flight: inFlight,
      refused: counters.refused,
    };
  }
}
