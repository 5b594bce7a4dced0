import { z } from "zod";
import { CALLER_CONTEXT_PATTERN } from "@llm-provider/contracts";
import { BudgetSchema } from "./budgets.js";

export const CallerContextSchema = z
  .strictObject({
    rpm: z.number().int().positive().optional().describe("Requests per minute this context may send"),
    tpm: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        "Tokens per minute this context may use: estimated until the provider counted, then its count",
      ),
    budgets: z
      .array(BudgetSchema)
      .default([])
      .describe("What this context may spend per day or month; a request past any of them is refused"),
  })
  .describe("One calling bounded context and its limits, counted across all workers");

export const CallersConfigSchema = z
  .strictObject({
    identity: z
      .enum(["account", "none"])
      .optional()
      .describe(
        "account: callers live in NATS accounts of their own and requests arrive on " +
          "llm-provider.ctx.<context>.…, the context set by the server's per-account export; " +
          "none: one account, every request is from 'anonymous'. Unset: account in production, none in development",
      ),
    contexts: z
      .record(
        z.string().regex(CALLER_CONTEXT_PATTERN, "a lowercase NATS token of at most 32 characters"),
        CallerContextSchema,
      )
      .default({})
      .describe("The contexts served (identity account); others are refused as forbidden"),
    reply_prefixes: z
      .array(z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.$/, "subject tokens ending in '.'"))
      .default([])
      .describe("Reply subject prefixes accepted besides _INBOX. and _R_. (per-user inbox prefixes)"),
  })
  .describe("Who may call the service and how the caller is known");
