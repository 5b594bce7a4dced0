import type { BudgetUse, SpendTotals } from "@llm-provider/contracts";
import { isBudgetSpent, periodStartOf } from "./budgets.js";
import type { Budget, Spend } from "./budgets.js";

/**
 * The period key a `get_spend` asks for: `date` when it names a real day (`YYYY-MM-DD`) or month
 * (`YYYY-MM`) of the period's kind, the current one (UTC) when unset; undefined when it does not.
 */
export function requestedPeriodStart(
  period: Budget["period"],
  date: string | undefined,
  now: number,
): string | undefined {
  if (date === undefined) return periodStartOf(period, now);
  const shape = period === "day" ? /^(\d{4})-(\d{2})-(\d{2})$/ : /^(\d{4})-(\d{2})$/;
  const parts = shape.exec(date);
  if (!parts) return undefined;
  const at = Date.UTC(Number(parts[1]), Number(parts[2]) - 1, Number(parts[3] ?? "1"));
  // Date.UTC rolls 2026-02-30 over into March: a date that does not come back unchanged is not real.
  return periodStartOf(period, at) === date ? date : undefined;
}

export function totalsOf(spent: Spend): SpendTotals {
  return { usd: spent.usd, tokens: spent.tokens, requests: spent.requests };
}

/** One budget's use: its limits, what its counter holds, and what is left of each limit. */
export function budgetUseOf(budget: Budget, index: number, spent: Spend): BudgetUse {
  const limit: BudgetUse["limit"] = {};
  const remaining: BudgetUse["remaining"] = {};
  if (budget.usd !== undefined) {
    limit.usd = budget.usd;
    remaining.usd = Math.max(budget.usd - spent.usd, 0);
  }
  if (budget.tokens !== undefined) {
    limit.tokens = budget.tokens;
    remaining.tokens = Math.max(budget.tokens - spent.tokens, 0);
  }
  return {
    budget: index,
    period: budget.period,
    ...(budget.model === undefined ? {} : { model: budget.model }),
    ...(budget.metadata === undefined ? {} : { metadata: { ...budget.metadata } }),
    limit,
    used: { usd: spent.usd, tokens: spent.tokens },
    remaining,
    exceeded: isBudgetSpent(budget, spent),
  };
}
