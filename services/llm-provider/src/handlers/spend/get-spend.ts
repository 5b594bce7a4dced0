import { GetSpendSchema, LlmProviderError, parseRequest } from "@llm-provider/contracts";
import type { SpendReport } from "@llm-provider/contracts";
import { counterOfBudget, NO_SPEND } from "../../domain/budgets.js";
import type { Budget, SpendCounter } from "../../domain/budgets.js";
import { budgetUseOf, requestedPeriodStart, totalsOf } from "../../domain/spend-report.js";
import type { Handler } from "../../ports/request-handler.js";
import type { SpendLedger } from "../../ports/spend-ledger.js";

export interface GetSpendDeps {
  ledger: SpendLedger;
  budgetsOf: (caller: string) => readonly Budget[] | undefined;
  /** Writes what this worker counted and has not written yet (`CallerBudgets.writePending`). */
  writePending: () => Promise<void>;
  now?: () => number;
}

/**
 * `llm-provider.qry.get_spend`: the calling context's spend in one UTC day or month. The caller is
 * the context the request arrived for (decision 0001), never a field of the body, so a caller reads
 * its own counts only.
 */
export function createGetSpendHandler(deps: GetSpendDeps): Handler {
  const now = deps.now ?? Date.now;
  return async (body, context): Promise<SpendReport> => {
    const request = parseRequest(GetSpendSchema, body);
    const periodStart = requestedPeriodStart(request.period, request.date, now());
    if (periodStart === undefined) {
      throw new LlmProviderError(
        "invalid_request",
        `date must be a real ${request.period === "day" ? "day, YYYY-MM-DD" : "month, YYYY-MM"}`,
        { field: "date" },
      );
    }
    const caller = context.caller;
    const counter = (model?: string): SpendCounter => ({
      caller,
      period: request.period,
      periodStart,
      model,
    });
    const at = Date.parse(request.period === "day" ? periodStart : `${periodStart}-01`);
    const budgets = (deps.budgetsOf(caller) ?? []).flatMap((budget, index) =>
      budget.period === request.period &&
      (request.model === undefined || budget.model === undefined || budget.model === request.model)
        ? [{ budget, index }]
        : [],
    );
    try {
      await deps.writePending();
      const [all, budgetSpends] = await Promise.all([
        deps.ledger.read(counter(request.model)),
        Promise.all(budgets.map(({ budget }) => deps.ledger.read(counterOfBudget(caller, budget, at)))),
      ]);
      // The all-models count names the models spent on; one read each gives their rows.
      const models = request.model === undefined ? (all.models ?? []) : [request.model];
      const rows =
        request.model === undefined
          ? await Promise.all(models.map((model) => deps.ledger.read(counter(model))))
          : [all];
      return {
        caller,
        period: request.period,
        period_start: periodStart,
        totals: totalsOf(all),
        models: models
          .map((model, position) => ({ model, ...totalsOf(rows[position] ?? NO_SPEND) }))
          .filter((row) => row.requests > 0),
        budgets: budgets.map(({ budget, index }, position) =>
          budgetUseOf(budget, index, budgetSpends[position]!),
        ),
      };
    } catch (error) {
      throw new LlmProviderError("state_unavailable", "the caller's spend could not be read; retry", {
        cause: error,
      });
    }
  };
}
