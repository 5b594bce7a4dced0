import type { Spend, SpendCounter } from "../domain/budgets.js";

/** What callers spent per period, counted across all workers. */
export interface SpendLedger {
  /** The counter's value now; nothing spent yet reads as zero. Throws when the store does not answer. */
  read(counter: SpendCounter): Promise<Spend>;
  /** Adds to the counter atomically (other workers add at the same time); the value before and after. */
  add(counter: SpendCounter, spend: Spend): Promise<{ before: Spend; after: Spend }>;
}
