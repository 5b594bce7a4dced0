import type { ConfigProblem } from "./catalog.js";

/** A caller's limit per calendar period (`callers.contexts.<caller>.budgets[]`). */
export interface Budget {
  period: "day" | "month";
  usd?: number | undefined;
  tokens?: number | undefined;
  /** Only requests for this model count; unset: all of them. */
  model?: string | undefined;
}

/** What was spent in one period, by one caller (and one model, or all). */
export interface Spend {
  usd: number;
  tokens: number;
  requests: number;
}

export const NO_SPEND: Spend = { usd: 0, tokens: 0, requests: 0 };

/** One count kept in the spend bucket: a caller's spend in a period, for one model or all (`model` unset). */
export interface SpendCounter {
  caller: string;
  period: Budget["period"];
  /** `YYYY-MM-DD` or `YYYY-MM` (UTC). */
  periodStart: string;
  model?: string | undefined;
}

/** The UTC day (`2026-12-06`) or month (`2026-12`) that `at` (ms since the epoch) falls in. */
export function periodStartOf(period: Budget["period"], at: number): string {
  const iso = new Date(at).toISOString();
  return period === "day" ? iso.slice(0, 10) : iso.slice(0, 7);
}

/** The counter a budget is checked against at `at`. */
export function counterOfBudget(caller: string, budget: Budget, at: number): SpendCounter {
  return {
    caller,
    period: budget.period,
    periodStart: periodStartOf(budget.period, at),
    model: budget.model,
  };
}

/**
 * The counters an answer adds to: per day, all models and its model (what `get_spend` reports),
 * and per month only when the caller has a monthly budget (nothing else reads them).
 */
export function countersOfAnswer(
  caller: string,
  model: string,
  budgets: readonly Budget[],
  at: number,
): SpendCounter[] {
  const periods: Budget["period"][] = budgets.some((budget) => budget.period === "month")
    ? ["day", "month"]
    : ["day"];
  return periods.flatMap((period) => {
    const periodStart = periodStartOf(period, at);
    return [
      { caller, period, periodStart },
      { caller, period, periodStart, model },
    ];
  });
}

/** Whether `spent` has reached the budget's limit (in USD or in tokens). */
export function isBudgetSpent(budget: Budget, spent: Spend): boolean {
  return (
    (budget.usd !== undefined && spent.usd >= budget.usd) ||
    (budget.tokens !== undefined && spent.tokens >= budget.tokens)
  );
}

/** Budgets that apply to a request for `model`: those for every model and those for that one. */
export function budgetsForModel(budgets: readonly Budget[], model: string): Budget[] {
  return budgets.filter((budget) => budget.model === undefined || budget.model === model);
}

/** Adds one answer's spend to a count. */
export function addSpend(spent: Spend, added: Spend): Spend {
  return {
    usd: spent.usd + added.usd,
    tokens: spent.tokens + added.tokens,
    requests: spent.requests + added.requests,
  };
}

/** A threshold of one of a caller's budgets, reached by an answer's spend. */
export interface BudgetReached {
  caller: string;
  /** Its index in the caller's budgets. */
  index: number;
  budget: Budget;
  periodStart: string;
  threshold: BudgetThreshold;
  /** The counter's value after the addition that reached it. */
  spent: Spend;
}

/** Budgets naming a model that is not configured (a typo would never count anything). */
export function findBudgetProblems(
  contexts: Readonly<Record<string, { budgets: readonly Budget[] }>>,
  modelNames: ReadonlySet<string>,
): ConfigProblem[] {
  return Object.entries(contexts).flatMap(([caller, context]) =>
    context.budgets.flatMap((budget, index) =>
      budget.model !== undefined && !modelNames.has(budget.model)
        ? [
            {
              field: `callers.contexts.${caller}.budgets[${index}].model`,
              message: `budget names unknown model '${budget.model}'`,
            },
          ]
        : [],
    ),
  );
}

/** The shares of a budget announced when reached (80 %, then 100 %). */
export const BUDGET_THRESHOLDS = [80, 100] as const;
export type BudgetThreshold = (typeof BUDGET_THRESHOLDS)[number];

/** The larger of the shares of the budget's limits that `spent` uses, in percent. */
function percentUsed(budget: Budget, spent: Spend): number {
  return Math.max(
    budget.usd === undefined ? 0 : (spent.usd / budget.usd) * 100,
    budget.tokens === undefined ? 0 : (spent.tokens / budget.tokens) * 100,
  );
}

/**
 * The thresholds an addition to the budget's counter went past. Additions are compare-and-set on
 * one counter, so exactly one addition sees each threshold crossed, whichever worker made it.
 */
export function thresholdsCrossed(budget: Budget, before: Spend, after: Spend): BudgetThreshold[] {
  const from = percentUsed(budget, before);
  const to = percentUsed(budget, after);
  return BUDGET_THRESHOLDS.filter((threshold) => from < threshold && to >= threshold);
}

/** Whether `counter` is the one `budget` is checked against. */
export function countsFor(budget: Budget, counter: SpendCounter): boolean {
  return counter.period === budget.period && counter.model === budget.model;
}
