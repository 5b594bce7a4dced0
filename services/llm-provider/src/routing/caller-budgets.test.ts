import pino from "pino";
import { describe, expect, it, vi } from "vitest";
import { addSpend, NO_SPEND } from "../domain/budgets.js";
import type { Spend, SpendCounter } from "../domain/budgets.js";
import type { SpendLedger } from "../ports/spend-ledger.js";
import { createCallerBudgets } from "./caller-budgets.js";

/** A ledger whose additions to per-model counters wait until released. */
function heldLedger() {
  const counts = new Map<string, Spend>();
  const held: (() => void)[] = [];
  const keyOf = (counter: SpendCounter) => JSON.stringify(counter);
  const ledger: SpendLedger = {
    read: (counter) => Promise.resolve(counts.get(keyOf(counter)) ?? NO_SPEND),
    async add(counter, spend) {
      if (counter.model !== undefined) await new Promise<void>((resolve) => held.push(resolve));
      const before = counts.get(keyOf(counter)) ?? NO_SPEND;
      const after = addSpend(before, spend);
      counts.set(keyOf(counter), after);
      return { before, after };
    },
  };
  return { ledger, held, counts };
}

const at = Date.UTC(2026, 11, 6);

describe("caller budgets' record", () => {
  it("waits for the counts a budget reads; sums the others and writes them once, on writePending or flush", async () => {
    const { ledger, held, counts } = heldLedger();
    const budgets = createCallerBudgets({
      ledger,
      budgetsOf: (caller) => (caller === "query" ? [{ period: "day", usd: 1 }] : undefined),
      countEverything: true,
      logger: pino({ level: "silent" }),
      onThresholdReached: () => undefined,
      now: () => at,
    });
    await budgets.record("query", { model: "m" }, { usd: 0.5, tokens: 10 });
    await budgets.record("query", { model: "m" }, { usd: 0.25, tokens: 5 });
    await budgets.record("memory", { model: "m" }, { usd: 0.25, tokens: 5 });
    // The budget's counter is written before each reply; nothing else is yet.
    expect([...counts]).toEqual([
      [
        JSON.stringify({ caller: "query", period: "day", periodStart: "2026-12-06" }),
        { usd: 0.75, tokens: 15, requests: 2, models: ["m"] },
      ],
    ]);
    expect(held).toHaveLength(0);
    const writing = budgets.writePending();
    await vi.waitFor(() => expect(held).toHaveLength(4)); // per-model: query and memory, day and month
    let flushed = false;
    const flushing = budgets.flush(5_000).then(() => (flushed = true));
    await Promise.resolve();
    expect(flushed).toBe(false); // the write under way is waited for
    for (const release of held) release();
    await Promise.all([writing, flushing]);
    // One addition per counter, the two answers of query summed.
    expect(counts.size).toBe(8);
    expect(
      counts.get(JSON.stringify({ caller: "query", period: "day", periodStart: "2026-12-06", model: "m" })),
    ).toEqual({ usd: 0.75, tokens: 15, requests: 2 });
  });

  it("counts nothing but the budgets' counters when spend is not counted for get_spend", async () => {
    const { ledger, counts } = heldLedger();
    const budgets = createCallerBudgets({
      ledger,
      budgetsOf: () => [{ period: "month", tokens: 100 }],
      countEverything: false,
      logger: pino({ level: "silent" }),
      onThresholdReached: () => undefined,
      now: () => at,
    });
    await budgets.record("query", { model: "m" }, { usd: 0.5, tokens: 10 });
    expect([...counts.keys()]).toEqual([
      JSON.stringify({ caller: "query", period: "month", periodStart: "2026-12" }),
    ]);
  });
});
