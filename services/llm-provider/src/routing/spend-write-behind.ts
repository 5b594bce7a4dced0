import type { Logger } from "pino";
import { addSpend } from "../domain/budgets.js";
import type { Spend, SpendCounter } from "../domain/budgets.js";
import type { SpendLedger } from "../ports/spend-ledger.js";

/** How often the counts no reply waits for are written: one addition per counter per interval. */
export const SPEND_WRITE_INTERVAL_MS = 250;

/**
 * The counts only `get_spend` reads, summed per counter in memory and written once per interval:
 * a busy worker makes one compare-and-set per counter and interval instead of one per answer
 * (which would also race its own writes to the same key). What a crashed worker had not written
 * yet — at most one interval of its answers — is lost to `get_spend`, never to a budget.
 */
export class SpendWriteBehind {
  readonly #pending = new Map<string, { counter: SpendCounter; spend: Spend }>();
  readonly #timer: NodeJS.Timeout;
  #writing: Promise<void> | undefined;

  constructor(
    private readonly ledger: SpendLedger,
    private readonly logger: Logger,
    intervalMs = SPEND_WRITE_INTERVAL_MS,
  ) {
    this.#timer = setInterval(() => void this.write(), intervalMs);
    this.#timer.unref();
  }

  add(counter: SpendCounter, spend: Spend): void {
    const key = JSON.stringify(counter);
    const pending = this.#pending.get(key);
    this.#pending.set(key, { counter, spend: pending ? addSpend(pending.spend, spend) : spend });
  }

  /** Writes what is pending, after the write under way (never two at once: they would race). */
  write(): Promise<void> {
    this.#writing = (this.#writing ?? Promise.resolve()).then(() => this.#writePending());
    return this.#writing;
  }

  /** Stops the timer and writes what is pending (at shutdown). */
  close(): Promise<void> {
    clearInterval(this.#timer);
    return this.write();
  }

  async #writePending(): Promise<void> {
    if (this.#pending.size === 0) return;
    const batch = [...this.#pending.values()];
    this.#pending.clear();
    await Promise.all(
      batch.map(({ counter, spend }) =>
        this.ledger.add(counter, spend).catch((error: unknown) => {
          this.logger.warn(
            { counter, usd: spend.usd, tokens: spend.tokens, err: error },
            "spend not counted",
          );
        }),
      ),
    );
  }
}
