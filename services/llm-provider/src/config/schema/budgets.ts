import { z } from "zod";

export const BudgetSchema = z
  .strictObject({
    period: z
      .enum(["day", "month"])
      .describe("Calendar day or month in UTC; the count starts again at 00:00 UTC of each"),
    usd: z.number().positive().optional().describe("Spend in USD, priced as the answers' cost"),
    tokens: z
      .number()
      .int()
      .positive()
      .optional()
      .describe("Tokens the providers counted (input and output)"),
    model: z
      .string()
      .min(1)
      .optional()
      .describe("Counts only requests for this model (as requested); unset: every model"),
    metadata: z
      .record(z.string().min(1).max(64), z.string().max(512))
      .refine((tags) => Object.keys(tags).length > 0, "a budget's metadata names at least one tag")
      .optional()
      .describe(
        "Counts only requests whose `metadata` carries every one of these tags (key: value); unset: every request",
      ),
  })
  .refine((budget) => budget.usd !== undefined || budget.tokens !== undefined, {
    path: ["usd"],
    message: "a budget needs usd, tokens or both",
  })
  .describe("A limit on what the caller spends per period, counted across all workers");
export type BudgetConfig = z.output<typeof BudgetSchema>;

export const SpendConfigSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe(
        "Count every caller's spend per day, month and model and serve llm-provider.qry.get_spend; " +
          "false: only what the callers' budgets are checked against is counted, and get_spend is not served",
      ),
    bucket: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/)
      .default("llm_provider_spend"),
    replicas: z.number().int().min(1).max(5).default(1),
    retention_ms: z
      .number()
      .int()
      .min(32 * 24 * 60 * 60 * 1000)
      .default(62 * 24 * 60 * 60 * 1000)
      .describe(
        "How long a period's count is kept after its last write (the bucket's TTL): at least a month, " +
          "so that a month's count outlives the month",
      ),
  })
  .describe("Where what each caller spent is counted per day and month, across workers");
export type SpendConfig = z.output<typeof SpendConfigSchema>;
