import { describe, expect, it } from "vitest";
import {
  budgetsForModel,
  countersOfAnswer,
  findBudgetProblems,
  isBudgetSpent,
  thresholdsCrossed,
  periodStartOf,
} from "./budgets.js";

const at = Date.UTC(2026, 11, 31, 23, 59, 59, 999);

describe("budgets", () => {
  it("cut periods on UTC days and months", () => {
    expect(periodStartOf("day", at)).toBe("2026-12-31");
    expect(periodStartOf("month", at)).toBe("2026-12");
    expect(periodStartOf("day", at + 1)).toBe("2027-01-01");
    expect(periodStartOf("month", at + 1)).toBe("2027-01");
  });

  it("are spent once either limit is reached", () => {
    const budget = { period: "day" as const, usd: 1, tokens: 100 };
    expect(isBudgetSpent(budget, { usd: 0.99, tokens: 99, requests: 3 })).toBe(false);
    expect(isBudgetSpent(budget, { usd: 1, tokens: 0, requests: 1 })).toBe(true);
    expect(isBudgetSpent(budget, { usd: 0, tokens: 100, requests: 1 })).toBe(true);
    expect(isBudgetSpent({ period: "day", tokens: 5 }, { usd: 100, tokens: 4, requests: 1 })).toBe(false);
  });

  it("apply to every model, or to the one they name", () => {
    const all = { period: "day" as const, usd: 1 };
    const embedder = { period: "month" as const, tokens: 10, model: "embedder" };
    expect(budgetsForModel([all, embedder], "chat")).toEqual([all]);
    expect(budgetsForModel([all, embedder], "embedder")).toEqual([all, embedder]);
  });

  it("count months only for a caller with a monthly budget", () => {
    expect(countersOfAnswer("query", "m", [], at)).toEqual([
      { caller: "query", period: "day", periodStart: "2026-12-31" },
      { caller: "query", period: "day", periodStart: "2026-12-31", model: "m" },
    ]);
    expect(countersOfAnswer("query", "m", [{ period: "month", usd: 1 }], at).map((c) => c.period)).toEqual([
      "day",
      "day",
      "month",
      "month",
    ]);
  });

  it("naming an unknown model are a configuration problem, with the field", () => {
    const contexts = { query: { budgets: [{ period: "day" as const, usd: 1, model: "nope" }] } };
    expect(findBudgetProblems(contexts, new Set(["model-0"]))).toEqual([
      { field: "callers.contexts.query.budgets[0].model", message: "budget names unknown model 'nope'" },
    ]);
    expect(findBudgetProblems(contexts, new Set(["nope"]))).toEqual([]);
  });

  it("announce a threshold only on the addition that goes past it", () => {
    const budget = { period: "day" as const, usd: 10, tokens: 1_000 };
    const spend = (usd: number, tokens: number) => ({ usd, tokens, requests: 1 });
    expect(thresholdsCrossed(budget, spend(7, 0), spend(7.9, 0))).toEqual([]);
    expect(thresholdsCrossed(budget, spend(7.9, 0), spend(8, 0))).toEqual([80]);
    expect(thresholdsCrossed(budget, spend(8, 0), spend(9, 0))).toEqual([]);
    expect(thresholdsCrossed(budget, spend(1, 0), spend(1, 1_000))).toEqual([80, 100]);
    expect(thresholdsCrossed(budget, spend(10, 0), spend(12, 0))).toEqual([]);
  });
});
