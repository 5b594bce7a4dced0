import { describe, expect, it } from "vitest";
import { budgetUseOf, requestedPeriodStart } from "./spend-report.js";

const now = Date.UTC(2026, 11, 6, 12);

describe("get_spend's period", () => {
  it("is the current UTC day or month when no date is given", () => {
    expect(requestedPeriodStart("day", undefined, now)).toBe("2026-12-06");
    expect(requestedPeriodStart("month", undefined, now)).toBe("2026-12");
  });

  it("takes a real date of the period's shape only", () => {
    expect(requestedPeriodStart("day", "2024-02-29", now)).toBe("2024-02-29");
    expect(requestedPeriodStart("month", "2025-01", now)).toBe("2025-01");
    for (const [period, date] of [
      ["day", "2026-02-29"],
      ["day", "2026-13-01"],
      ["day", "2026-12"],
      ["month", "2026-12-06"],
      ["month", "2026-00"],
      ["month", "26-12"],
    ] as const) {
      expect(requestedPeriodStart(period, date, now), `${period} ${date}`).toBeUndefined();
    }
  });
});

describe("a budget's use", () => {
  it("states its limits, what was used and what is left (never below zero)", () => {
    const budget = { period: "day" as const, usd: 1, tokens: 100, metadata: { team: "a" } };
    expect(budgetUseOf(budget, 2, { usd: 0.25, tokens: 120, requests: 3 })).toEqual({
      budget: 2,
      period: "day",
      metadata: { team: "a" },
      limit: { usd: 1, tokens: 100 },
      used: { usd: 0.25, tokens: 120 },
      remaining: { usd: 0.75, tokens: 0 },
      exceeded: true,
    });
    expect(
      budgetUseOf({ period: "month", usd: 2, model: "m" }, 0, { usd: 1, tokens: 5, requests: 1 }),
    ).toEqual({
      budget: 0,
      period: "month",
      model: "m",
      limit: { usd: 2 },
      used: { usd: 1, tokens: 5 },
      remaining: { usd: 1 },
      exceeded: false,
    });
  });
});
