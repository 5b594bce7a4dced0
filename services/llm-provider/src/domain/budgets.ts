import type { ConfigProblem } from "./catalog.js";
import { hashParts } from "./hash-parts.js";

/** A caller's limit per calendar period (`callers.contexts.<caller>.budgets[]`). */
export interface Budget {
  period: "day" | "month";
  usd?: number | undefined;
  tokens?: number | undefined;
  /** Only requests for this model count; unset: all of them. */
  model?: string | undefined;
  /** Only requests whose `metadata` carries every one of these tags count; unset: all of them. */
  metadata?: Readonly<Record<string, string>> | undefined;
}

/** What a request is counted and checked by: the model asked for and the caller's tags. */
export interface SpendRequest {
  model: string;
  metadata?: Readonly<Record<string, string>> | undefined;
}

/** What was spent in one period, by one caller (and one model, or all). */
export interface Spend {
  usd: number;
  tokens: number;
  requests: number;
  /**
   * On a caller's all-models count of a period: the models its answers were for, so that
   * `get_spend` finds the per-model counts without listing keys.
   */
  models?: readonly string[] | undefined;
}

export const NO_SPEND: Spend = { usd: 0, tokens: 0, requests: 0 };

/** One count kept in the spend bucket: a caller's spend in a period, for one model or all (`model` unset). */
export interface SpendCounter {
  caller: string;
  period: Budget["period"];
  /** `YYYY-MM-DD` or `YYYY-MM` (UTC). */
  periodStart: string;
  model?: string | undefined;
  /** Only requests with the tags of this hash (`tagOf`); unset: every request. */
  tag?: string | undefined;
}

/**
 * A budget's tags as one counter token: the SHA-256 of its sorted pairs, as tags hold any
 * character and keys allow few.
 */
export function tagOf(metadata: Readonly<Record<string, string>>): string {
  return hashParts(
    Object.entries(metadata)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .flat(),
  );
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
    tag: budget.metadata === undefined ? undefined : tagOf(budget.metadata),
  };
}

/** A counter an answer adds to, and whether a budget of the caller is checked against it. */
export interface AnswerCounter {
  counter: SpendCounter;
  checked: boolean;
}

/**
 * The counters an answer adds to: with `everything` (spend counted for `get_spend`) its caller's
 * per day and month, all models and its model; and the counter of each budget that applies to it
 * (a tagged budget's own). `checked` ones are what admission reads.
 */
export function countersOfAnswer(
  caller: string,
  request: SpendRequest,
  budgets: readonly Budget[],
  at: number,
  everything: boolean,
): AnswerCounter[] {
  const applying = budgetsForRequest(budgets, request);
  const counters: SpendCounter[] = everything
    ? (["day", "month"] as const).flatMap((period) => {
        const periodStart = periodStartOf(period, at);
        return [
          { caller, period, periodStart },
          { caller, period, periodStart, model: request.model },
        ];
      })
    : [];
  for (const budget of applying) {
    const counter = counterOfBudget(caller, budget, at);
    if (!counters.some((known) => sameCounter(known, counter))) counters.push(counter);
  }
  return counters.map((counter) => ({
    counter,
    checked: applying.some((budget) => countsFor(budget, counter)),
  }));
}

function sameCounter(a: SpendCounter, b: SpendCounter): boolean {
  return (
    a.caller === b.caller &&
    a.period === b.period &&
    a.periodStart === b.periodStart &&
    a.model === b.model &&
    a.tag === b.tag
  );
}

/** What one answer adds to `counter`: the caller's untagged all-models counts also name its model. */
export function additionOf(
  counter: SpendCounter,
  request: SpendRequest,
  spent: Omit<Spend, "requests">,
): Spend {
  const added: Spend = { usd: spent.usd, tokens: spent.tokens, requests: 1 };
  return counter.model === undefined && counter.tag === undefined
    ? { ...added, models: [request.model] }
    : added;
}

/** Whether `spent` has reached the budget's limit (in USD or in tokens). */
export function isBudgetSpent(budget: Budget, spent: Spend): boolean {
  return (
    (budget.usd !== undefined && spent.usd >= budget.usd) ||
    (budget.tokens !== undefined && spent.tokens >= budget.tokens)
  );
}

/**
 * Budgets that apply to a request: those for every model or for its model, and untagged or with
 * every tag of theirs in the request's `metadata`.
 */
export function budgetsForRequest(budgets: readonly Budget[], request: SpendRequest): Budget[] {
  return budgets.filter(
    (budget) =>
      (budget.model === undefined || budget.model === request.model) &&
      Object.entries(budget.metadata ?? {}).every(([key, value]) => request.metadata?.[key] === value),
  );
}

/** Adds one answer's spend to a count (and its model to the count's models, once). */
export function addSpend(spent: Spend, added: Spend): Spend {
  const sum: Spend = {
    usd: spent.usd + added.usd,
    tokens: spent.tokens + added.tokens,
    requests: spent.requests + added.requests,
  };
  const models = [...(spent.models ?? [])];
  for (const model of added.models ?? []) if (!models.includes(model)) models.push(model);
  return models.length > 0 ? { ...sum, models } : sum;
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
  return (
    counter.period === budget.period &&
    counter.model === budget.model &&
    counter.tag === (budget.metadata === undefined ? undefined : tagOf(budget.metadata))
  );
}
