import { withinMs } from "../../shared/within-ms.js";

/** A read's result: its value, or why there is none (it failed, or did not answer in time). */
export type ReadOutcome<T> = { answered: true; value: T } | { answered: false; reason: string };

export interface SharedReadsOptions {
  /** How long a query waits for the read of its key. */
  waitMs: number;
  /** How long a read may stay unanswered before the next query presumes it lost and sends another. */
  rereadAfterMs: number;
  /** Epoch ms. */
  now: () => number;
}

interface PendingRead<T> {
  outcome: Promise<ReadOutcome<T>>;
  sentAt: number;
}

/**
 * Reads of shared state, one key (a provider) at a time, with a bounded wait: a query joins the
 * read of its key already out (unless it is presumed lost) and waits for it at most `waitMs`. A
 * read goes on after that; whenever one answers, its value is what is last known of its key.
 */
export class SharedReads<T> {
  readonly #read: (key: string) => Promise<T>;
  readonly #options: SharedReadsOptions;
  readonly #pending = new Map<string, PendingRead<T>>();
  readonly #last = new Map<string, { value: T; sentAt: number; answeredAt: number }>();

  constructor(read: (key: string) => Promise<T>, options: SharedReadsOptions) {
    this.#read = read;
    this.#options = options;
  }

  async get(key: string): Promise<ReadOutcome<T>> {
    const { waitMs, rereadAfterMs, now } = this.#options;
    let entry = this.#pending.get(key);
    if (!entry || now() - entry.sentAt >= rereadAfterMs) entry = this.#send(key);
    return (
      (await withinMs(entry.outcome, waitMs)) ?? { answered: false, reason: `no answer within ${waitMs} ms` }
    );
  }

  /** The last value a read of `key` answered, and when (epoch ms); undefined when none has. */
  last(key: string): { value: T; answeredAt: number } | undefined {
    return this.#last.get(key);
  }

  #send(key: string): PendingRead<T> {
    const { now } = this.#options;
    const sentAt = now();
    const entry = { outcome: this.#outcomeOf(key), sentAt };
    this.#pending.set(key, entry);
    // Registered before any query waits on it: a fresh value is remembered before it is used.
    void entry.outcome.then((result) => {
      if (this.#pending.get(key) === entry) this.#pending.delete(key);
      // Reads may overlap (one presumed lost answers after all): the one sent last is what is known.
      if (result.answered && (this.#last.get(key)?.sentAt ?? -Infinity) <= sentAt)
        this.#last.set(key, { value: result.value, sentAt, answeredAt: now() });
    });
    return entry;
  }

  /** The read of `key` as an outcome that never rejects, also when `read` throws at once. */
  #outcomeOf(key: string): Promise<ReadOutcome<T>> {
    try {
      return this.#read(key).then(
        (value): ReadOutcome<T> => ({ answered: true, value }),
        (error: unknown): ReadOutcome<T> => ({
          answered: false,
          reason: error instanceof Error ? error.message : String(error),
        }),
      );
    } catch (error) {
      return Promise.resolve({ answered: false, reason: String(error) });
    }
  }
}
