import { LlmProviderError } from "@llm-provider/contracts";
import type { Logger } from "pino";
import {
  budgetsForModel,
  counterOfBudget,
  countersOfAnswer,
  countsFor,
  isBudgetSpent,
  thresholdsCrossed,
} from "../domain/budgets.js";
import type { Budget, BudgetReached, Spend } from "../domain/budgets.js";
import type { SpendLedger } from "../ports/spend-ledger.js";

/** Per-caller spend budgets per day and month (`callers.contexts.<context>.budgets`), across all workers. */
export interface CallerBudgets {
  /**
   * Refuses a request for `model` with `budget_exceeded` when a budget of the caller that applies
   * to it is spent, before anything is called upstream; `state_unavailable` when the counts cannot
   * be read. A caller without budgets costs no read.
   */
  admit(caller: string, model: string): Promise<void> | void;
  /**
   * Adds what an answer cost (`usd`, the tokens the provider counted) to the caller's counts of
   * today (all models and `model`) and, when it has a monthly budget, of this month, and announces
   * the budget thresholds this addition reached. Never throws; resolves once written.
   */
  record(caller: string, model: string, spent: Omit<Spend, "requests">): Promise<void>;
}

/**
 * How long a reply waits for its spend to be counted: milliseconds normally; when the bucket is
 * slow (a leader election) the reply goes and the count follows, at the price of a larger
 * overshoot meanwhile (docs/operations.md).
 */
export const SPEND_RECORD_WAIT_MS = 1_000;

export function createCallerBudgets(options: {
  ledger: SpendLedger;
  budgetsOf: (caller: string) => readonly Budget[] | undefined;
  logger: Logger;
  /** A threshold (80 %, 100 %) of a budget reached: told once per threshold and period, cluster-wide. */
  onThresholdReached: (reached: BudgetReached) => void;
  /** The clock periods are cut from; `Date.now` unless a test turns the day. */
  now?: () => number;
}): CallerBudgets {
  const { ledger, budgetsOf, logger } = options;
  const now = options.now ?? Date.now;
  return {
    admit(caller, model) {
      const budgets = budgetsForModel(budgetsOf(caller) ?? [], model);
      if (budgets.length === 0) return;
      return refuseSpentBudget(ledger, caller, budgets, budgetsOf(caller) ?? [], now());
    },
    async record(caller, model, spent) {
      const budgets = budgetsOf(caller) ?? [];
      // Nothing reads the spend of a caller without budgets: its answers write no counters and wait for none.
      if (budgets.length === 0) return;
      const at = now();
      const counters = countersOfAnswer(caller, model, budgets, at);
      const added: Spend = { ...spent, requests: 1 };
      const additions = await Promise.all(
        counters.map((counter) =>
          ledger.add(counter, added).catch((error: unknown) => {
            logger.warn(
              { caller, counter, usd: spent.usd, tokens: spent.tokens, err: error },
              "spend not counted",
            );
            return undefined;
          }),
        ),
      );
      budgets.forEach((budget, index) => {
        if (budget.model !== undefined && budget.model !== model) return;
        const position = counters.findIndex((counter) => countsFor(budget, counter));
        const addition = additions[position];
        if (!addition) return;
        for (const threshold of thresholdsCrossed(budget, addition.before, addition.after)) {
          const { periodStart } = counters[position]!;
          options.onThresholdReached({
            caller,
            index,
            budget,
            periodStart,
            threshold,
            spent: addition.after,
          });
        }
      });
    },
  };
}

async function refuseSpentBudget(
  ledger: SpendLedger,
  caller: string,
  budgets: readonly Budget[],
  allBudgets: readonly Budget[],
  at: number,
): Promise<void> {
  const counters = budgets.map((budget) => counterOfBudget(caller, budget, at));
  const spent = await Promise.all(counters.map((counter) => ledger.read(counter))).catch((error: unknown) => {
    throw new LlmProviderError("state_unavailable", "the caller's spend could not be read", {
      cause: error,
    });
  });
  const index = budgets.findIndex((budget, position) => isBudgetSpent(budget, spent[position]!));
  if (index < 0) return;
  const budget = budgets[index]!;
  const counter = counters[index]!;
  const limit = { usd: budget.usd, tokens: budget.tokens };
  throw new LlmProviderError(
    "budget_exceeded",
    `budget of caller '${caller}' for the ${budget.period} ${counter.periodStart}` +
      `${budget.model === undefined ? "" : ` and model '${budget.model}'`} is spent`,
    {
      retryable: false,
      details: {
        budget: allBudgets.indexOf(budget),
        period: budget.period,
        period_start: counter.periodStart,
        ...(budget.model === undefined ? {} : { model: budget.model }),
        spent: { usd: spent[index]!.usd, tokens: spent[index]!.tokens },
        limit,
      },
    },
  );
}
