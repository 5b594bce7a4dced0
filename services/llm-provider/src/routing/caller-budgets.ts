import { LlmProviderError } from "@llm-provider/contracts";
import type { Logger } from "pino";
import {
  additionOf,
  budgetsForRequest,
  counterOfBudget,
  countersOfAnswer,
  countsFor,
  isBudgetSpent,
  thresholdsCrossed,
} from "../domain/budgets.js";
import type { Budget, BudgetReached, Spend, SpendRequest } from "../domain/budgets.js";
import type { SpendLedger } from "../ports/spend-ledger.js";
import { withinMs } from "../shared/within-ms.js";
import { SpendWriteBehind } from "./spend-write-behind.js";

/** Per-caller spend budgets per day and month (`callers.contexts.<context>.budgets`), across all workers. */
export interface CallerBudgets {
  /**
   * Refuses a request with `budget_exceeded` when a budget of the caller that applies to it (its
   * model, its `metadata` tags) is spent, before anything is called upstream; `state_unavailable`
   * when the counts cannot be read. A request no budget applies to costs no read.
   */
  admit(caller: string, request: SpendRequest): Promise<void> | void;
  /**
   * Adds what an answer cost (`usd`, the tokens the provider counted) to the caller's counts and
   * announces the budget thresholds this addition reached. Resolves once the counts its budgets
   * are checked against are written; the others (what only `get_spend` reads) follow in the
   * background. Never throws.
   */
  record(caller: string, request: SpendRequest, spent: Omit<Spend, "requests">): Promise<void>;
  /**
   * Writes the counts this worker summed for `get_spend` and has not written yet, so that a read
   * after it sees every answer this worker gave (other workers' follow within their interval).
   */
  writePending(): Promise<void>;
  /** Waits (at most `timeoutMs`) for the background counts still being written, at shutdown. */
  flush(timeoutMs: number): Promise<void>;
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
  /** `spend.enabled`: every answer of every caller is counted (for `get_spend`), not only budgets' counts. */
  countEverything: boolean;
  logger: Logger;
  /** A threshold (80 %, 100 %) of a budget reached: told once per threshold and period, cluster-wide. */
  onThresholdReached: (reached: BudgetReached) => void;
  /** The clock periods are cut from; `Date.now` unless a test turns the day. */
  now?: () => number;
}): CallerBudgets {
  const { ledger, budgetsOf, logger } = options;
  const now = options.now ?? Date.now;
  const writeBehind = new SpendWriteBehind(ledger, logger);
  return {
    admit(caller, request) {
      const budgets = budgetsForRequest(budgetsOf(caller) ?? [], request);
      if (budgets.length === 0) return;
      return refuseSpentBudget(ledger, caller, budgets, budgetsOf(caller) ?? [], now());
    },
    async record(caller, request, spent) {
      const budgets = budgetsOf(caller) ?? [];
      const at = now();
      const counters = countersOfAnswer(caller, request, budgets, at, options.countEverything);
      const additions = counters.map(({ counter, checked }) => {
        const addition = additionOf(counter, request, spent);
        if (!checked) {
          // Only get_spend reads it: summed here and written with the next interval's.
          writeBehind.add(counter, addition);
          return Promise.resolve(undefined);
        }
        return ledger.add(counter, addition).catch((error: unknown) => {
          logger.warn(
            { caller, counter, usd: spent.usd, tokens: spent.tokens, err: error },
            "spend not counted",
          );
          return undefined;
        });
      });
      const checked = await Promise.all(additions);
      budgetsForRequest(budgets, request).forEach((budget) => {
        const position = counters.findIndex(({ counter }) => countsFor(budget, counter));
        const addition = checked[position];
        if (!addition) return;
        for (const threshold of thresholdsCrossed(budget, addition.before, addition.after)) {
          options.onThresholdReached({
            caller,
            index: budgets.indexOf(budget),
            budget,
            periodStart: counters[position]!.counter.periodStart,
            threshold,
            spent: addition.after,
          });
        }
      });
    },
    writePending() {
      return writeBehind.write();
    },
    async flush(timeoutMs) {
      await withinMs(writeBehind.close(), timeoutMs).catch(() => undefined);
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
      `${budget.model === undefined ? "" : ` and model '${budget.model}'`}` +
      `${budget.metadata === undefined ? "" : " and the request's tags"} is spent`,
    {
      retryable: false,
      details: {
        budget: allBudgets.indexOf(budget),
        period: budget.period,
        period_start: counter.periodStart,
        ...(budget.model === undefined ? {} : { model: budget.model }),
        ...(budget.metadata === undefined ? {} : { metadata: budget.metadata }),
        spent: { usd: spent[index]!.usd, tokens: spent[index]!.tokens },
        limit,
      },
    },
  );
}
