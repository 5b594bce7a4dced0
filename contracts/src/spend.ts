import { z } from "zod";

/** `llm-provider.qry.get_spend`: what the calling context spent in one UTC day or month. */
export const GetSpendSchema = z
  .strictObject({
    period: z.enum(["day", "month"]).describe("A UTC calendar day or month"),
    date: z
      .string()
      .regex(/^\d{4}-\d{2}(-\d{2})?$/, "YYYY-MM-DD for a day, YYYY-MM for a month")
      .optional()
      .describe("The day (YYYY-MM-DD) or month (YYYY-MM) asked for; unset: the current one (UTC)"),
    model: z
      .string()
      .min(1)
      .max(256)
      .optional()
      .describe("Only this model (as requested); unset: every model"),
  })
  .describe("GetSpend: the caller's own spend in a period; the caller is the context the request came from");
export type GetSpend = z.infer<typeof GetSpendSchema>;

export const SpendTotalsSchema = z.object({
  usd: z.number().nonnegative().describe("The answers' cost, as their usage.cost.total"),
  tokens: z.number().int().nonnegative().describe("Tokens the providers counted (input and output)"),
  requests: z.number().int().nonnegative().describe("Answers counted (a provider batch counts as one)"),
});
export type SpendTotals = z.infer<typeof SpendTotalsSchema>;

const BudgetAmountSchema = z.object({
  usd: z.number().optional(),
  tokens: z.number().optional(),
});

export const BudgetUseSchema = z
  .object({
    budget: z.number().int().nonnegative().describe("Its index in callers.contexts.<caller>.budgets"),
    period: z.enum(["day", "month"]),
    model: z.string().optional().describe("The model it counts; unset: every model"),
    metadata: z
      .record(z.string(), z.string())
      .optional()
      .describe("The tags a request must carry to count; unset: every request"),
    limit: BudgetAmountSchema.describe("The budget's limits (usd, tokens or both)"),
    used: z.object({ usd: z.number().nonnegative(), tokens: z.number().int().nonnegative() }),
    remaining: BudgetAmountSchema.describe("What is left of each limit, never below 0"),
    exceeded: z
      .boolean()
      .describe("A limit is reached: requests it applies to are refused (budget_exceeded)"),
  })
  .describe("BudgetUse: one of the caller's budgets of the period, with what it counted");
export type BudgetUse = z.infer<typeof BudgetUseSchema>;

export const SpendReportSchema = z
  .object({
    caller: z.string().describe("The calling context the spend is counted for"),
    period: z.enum(["day", "month"]),
    period_start: z.string().describe("The period's key: YYYY-MM-DD or YYYY-MM (UTC)"),
    totals: SpendTotalsSchema.describe("All models, or the one model asked for"),
    models: z
      .array(SpendTotalsSchema.extend({ model: z.string() }))
      .describe("Per model asked for, in the order first spent"),
    budgets: z
      .array(BudgetUseSchema)
      .describe("The caller's budgets of this period (of the model, if one is asked)"),
  })
  .describe("SpendReport: the reply of get_spend");
export type SpendReport = z.infer<typeof SpendReportSchema>;
