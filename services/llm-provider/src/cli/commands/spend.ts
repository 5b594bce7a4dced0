// `llm-provider spend`: what the connected calling context spent in a UTC day or month, per model,
// and its budgets' use (get_spend).
import type { BudgetUse, SpendReport } from "@llm-provider/contracts";
import { flagValue, stringValue } from "../args.js";
import type { CommandContext } from "../context.js";
import { EXIT } from "../exit-codes.js";
import type { ExitCode } from "../exit-codes.js";
import { formatCount, formatUsd, renderTable } from "../output.js";
import type { Cell, Column } from "../output.js";
import { UsageError } from "../usage-error.js";
import type { Command } from "./command.js";

export const spendCommand: Command = {
  name: "spend",
  summary: "show what this calling context spent today or this month, per model, and its budgets",
  usage: "spend [options]",
  optionHelp: `      --period <day|month> the UTC day or month (default: day)
      --date <date>        YYYY-MM-DD (day) or YYYY-MM (month); default: the current one
      --model <name>       only this model
      --json               print the raw SpendReport reply
  The caller is the NATS user's context: each context sees its own spend only.`,
  examples: `  llm-provider spend
  llm-provider spend --period month --date 2026-11 --model gpt-4o-mini`,
  options: {
    period: { type: "string" },
    date: { type: "string" },
    model: { type: "string" },
    json: { type: "boolean" },
  },
  run: runSpend,
};

const MODEL_COLUMNS: Column[] = [
  { title: "MODEL" },
  { title: "REQUESTS", align: "right" },
  { title: "TOKENS", align: "right" },
  { title: "USD", align: "right" },
];
const BUDGET_COLUMNS: Column[] = [
  { title: "BUDGET", align: "right" },
  { title: "APPLIES TO" },
  { title: "USED" },
  { title: "LIMIT" },
  { title: "REMAINING" },
  { title: "STATE" },
];

async function runSpend(context: CommandContext): Promise<ExitCode> {
  const period = stringValue(context.values, "period") ?? "day";
  if (period !== "day" && period !== "month") {
    throw new UsageError(`--period must be day or month, not '${period}'`, "spend");
  }
  const date = stringValue(context.values, "date");
  const model = stringValue(context.values, "model");
  const { client } = await context.connect();
  const timeoutMs = context.settings.timeoutMs;
  const report = await client.getSpend(
    { period, ...(date === undefined ? {} : { date }), ...(model === undefined ? {} : { model }) },
    timeoutMs === undefined ? {} : { timeoutMs },
  );
  if (flagValue(context.values, "json")) {
    context.out(`${JSON.stringify(report, null, 2)}\n`);
    return EXIT.ok;
  }
  context.out(renderReport(report, context));
  return EXIT.ok;
}

function renderReport(report: SpendReport, context: CommandContext): string {
  const paint = context.paint.stdout;
  const { totals } = report;
  const lines = [
    `${report.caller}, ${report.period} ${report.period_start}: ${formatUsd(totals.usd)}, ` +
      `${formatCount(totals.tokens)} tokens, ${formatCount(totals.requests)} requests\n`,
  ];
  if (report.models.length > 0) {
    const rows = report.models.map((row): Cell[] => [
      { text: row.model },
      { text: formatCount(row.requests) },
      { text: formatCount(row.tokens) },
      { text: formatUsd(row.usd) },
    ]);
    lines.push("\n", renderTable(MODEL_COLUMNS, rows, paint));
  }
  if (report.budgets.length > 0)
    lines.push("\n", renderTable(BUDGET_COLUMNS, report.budgets.map(budgetRow), paint));
  return lines.join("");
}

function budgetRow(use: BudgetUse): Cell[] {
  const scope = [
    use.model === undefined ? "every model" : `model ${use.model}`,
    ...Object.entries(use.metadata ?? {}).map(([key, value]) => `${key}=${value}`),
  ].join(", ");
  const amounts = (amount: { usd?: number | undefined; tokens?: number | undefined }) =>
    [
      ...(use.limit.usd === undefined ? [] : [formatUsd(amount.usd ?? 0)]),
      ...(use.limit.tokens === undefined ? [] : [`${formatCount(amount.tokens ?? 0)} tokens`]),
    ].join(" / ");
  return [
    { text: String(use.budget) },
    { text: scope },
    { text: amounts(use.used) },
    { text: amounts(use.limit) },
    { text: amounts(use.remaining) },
    use.exceeded ? { text: "exceeded", color: "red" } : { text: "ok", color: "green" },
  ];
}
