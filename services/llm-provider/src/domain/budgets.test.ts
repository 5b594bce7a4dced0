import { describe, expect, it } from "vitest";
import {
  addSpend,
  additionOf,
  budgetsForRequest,
  countersOfAnswer,
  countsFor,
  tagOf,
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
    expect(budgetsForRequest([all, embedder], { model: "chat" })).toEqual([all]);
    expect(budgetsForRequest([all, embedder], { model: "embedder" })).toEqual([all, embedder]);
  });

  it("with tags apply only to requests carrying every one of them", () => {
    const tagged = { period: "day" as const, usd: 1, metadata: { team: "search", env: "prod" } };
    expect(budgetsForRequest([tagged], { model: "m" })).toEqual([]);
    expect(budgetsForRequest([tagged], { model: "m", metadata: { team: "search" } })).toEqual([]);
    expect(
      budgetsForRequest([tagged], { model: "m", metadata: { env: "prod", team: "search", x: "y" } }),
    ).toEqual([tagged]);
    expect(budgetsForRequest([tagged], { model: "m", metadata: { team: "search", env: "dev" } })).toEqual([]);
  });

  it("hash tags into one key token whatever their order or characters", () => {
    expect(tagOf({ a: "1", b: "2" })).toBe(tagOf({ b: "2", a: "1" }));
    expect(tagOf({ a: "1", b: "2" })).not.toBe(tagOf({ a: "12", b: "" }));
    expect(tagOf({ "weird key.*>": "välue with spaces" })).toMatch(/^[0-9a-f]{64}$/);
  });

  it("count only the budgets' counters when spend is not counted for get_spend", () => {
    expect(countersOfAnswer("query", { model: "m" }, [], at, false)).toEqual([]);
    const counters = countersOfAnswer("query", { model: "m" }, [{ period: "month", usd: 1 }], at, false);
    expect(counters).toEqual([
      {
        counter: { caller: "query", period: "month", periodStart: "2026-12", tag: undefined },
        checked: true,
      },
    ]);
  });

  it("count every caller per day and month, all models and its model, when spend is counted", () => {
    const counters = countersOfAnswer("query", { model: "m" }, [], at, true);
    expect(counters.map(({ counter }) => [counter.period, counter.model])).toEqual([
      ["day", undefined],
      ["day", "m"],
      ["month", undefined],
      ["month", "m"],
    ]);
    expect(counters.every(({ checked }) => !checked)).toBe(true);
  });

  it("mark the counters a budget reads, and add a tagged budget's own", () => {
    const daily = { period: "day" as const, usd: 1 };
    const tagged = { period: "month" as const, tokens: 5, metadata: { team: "a" } };
    const request = { model: "m", metadata: { team: "a" } };
    const counters = countersOfAnswer("query", request, [daily, tagged], at, true);
    expect(counters).toHaveLength(5);
    expect(counters.filter(({ checked }) => checked).map(({ counter }) => counter)).toEqual([
      { caller: "query", period: "day", periodStart: "2026-12-31" },
      {
        caller: "query",
        period: "month",
        periodStart: "2026-12",
        model: undefined,
        tag: tagOf({ team: "a" }),
      },
    ]);
    expect(countsFor(tagged, counters[4]!.counter)).toBe(true);
    expect(countsFor(daily, counters[4]!.counter)).toBe(false);
    // An untagged request does not touch the tagged budget's count.
    expect(countersOfAnswer("query", { model: "m" }, [daily, tagged], at, true)).toHaveLength(4);
  });

  it("keep the models an all-models count was spent on, once each", () => {
    const all = { caller: "q", period: "day" as const, periodStart: "2026-12-31" };
    const added = additionOf(all, { model: "m" }, { usd: 0.5, tokens: 3 });
    expect(added).toEqual({ usd: 0.5, tokens: 3, requests: 1, models: ["m"] });
    expect(
      additionOf({ ...all, model: "m" }, { model: "m" }, { usd: 0.5, tokens: 3 }).models,
    ).toBeUndefined();
    const twice = addSpend(addSpend({ usd: 0, tokens: 0, requests: 0 }, added), added);
    expect(twice).toEqual({ usd: 1, tokens: 6, requests: 2, models: ["m"] });
    expect(addSpend(twice, { ...added, models: ["n"] }).models).toEqual(["m", "n"]);
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
