import type { Logger } from "pino";

/** Degradation warnings at most this often: a KV outage must not flood the log. */
const WARN_INTERVAL_MS = 10_000;

/** The embedding cache's degradation warnings: one per interval, with how many were held back. */
export class ThrottledWarning {
  #lastWarning = 0;
  #suppressed = 0;

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = WARN_INTERVAL_MS,
  ) {}

  warn(message: string, error: unknown): void {
    if (Date.now() - this.#lastWarning < this.intervalMs) {
      this.#suppressed++;
      return;
    }
    const err = error instanceof Error ? error.message : String(error);
    this.logger.warn({ err, suppressed: this.#suppressed }, message);
    this.#lastWarning = Date.now();
    this.#suppressed = 0;
  }
}
