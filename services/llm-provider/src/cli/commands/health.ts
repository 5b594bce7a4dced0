// `llm-provider health`: every provider's health and every fallback chain's status, coloured
// (get_provider_health); --provider for one provider.
import type { AggregateHealth, ProviderHealth } from "@llm-provider/contracts";
import { flagValue, stringValue } from "../args.js";
import type { CommandContext } from "../context.js";
import { EXIT } from "../exit-codes.js";
import type { ExitCode } from "../exit-codes.js";
import { formatCount, formatMs, renderTable } from "../output.js";
import type { Cell, Color, Column, Paint } from "../output.js";
import type { Command } from "./command.js";

export const healthCommand: Command = {
  name: "health",
  summary: "show provider health and the status of each fallback chain",
  usage: "health [options]",
  optionHelp: `      --provider <id>      one provider only
      --json               print the raw health reply
  Exits 0 whenever the service answered, healthy or not: read the table (or --json) for the verdict.`,
  examples: `  llm-provider health
  llm-provider health --provider openai`,
  options: {
    provider: { type: "string" },
    json: { type: "boolean" },
  },
  run: runHealth,
};

const PROVIDER_COLUMNS: Column[] = [
  { title: "PROVIDER" },
  { title: "STATUS" },
  { title: "SCORE", align: "right" },
  { title: "REQUESTS", align: "right" },
  { title: "ERRORS", align: "right" },
  { title: "AVG LATENCY", align: "right" },
  { title: "RATE LIMIT" },
  { title: "LAST ERROR" },
];
const CHAIN_COLUMNS: Column[] = [{ title: "CHAIN" }, { title: "STATUS" }, { title: "TARGETS" }];

/** Longest last error shown in the table (--json has it whole). */
const LAST_ERROR_CHARS = 60;

async function runHealth(context: CommandContext): Promise<ExitCode> {
  const provider = stringValue(context.values, "provider");
  const { client } = await context.connect();
  const timeoutMs = context.settings.timeoutMs;
  const health = await client.getProviderHealth(
    provider === undefined ? {} : { provider_id: provider },
    timeoutMs === undefined ? {} : { timeoutMs },
  );
  if (flagValue(context.values, "json")) {
    context.out(`${JSON.stringify(health, null, 2)}\n`);
    return EXIT.ok;
  }
  const paint = context.paint.stdout;
  if (!("providers" in health)) {
    context.out(renderTable(PROVIDER_COLUMNS, [providerRow(health)], paint));
    return EXIT.ok;
  }
  context.out(renderAggregate(health, paint));
  return EXIT.ok;
}

function renderAggregate(health: AggregateHealth, paint: Paint): string {
  const verdict = health.is_healthy ? paint("healthy", "green") : paint("unhealthy", "red");
  const stale = health.stale === true ? paint(` (stale${staleAge(health.stale_age_ms)})`, "yellow") : "";
  const sections = [`overall: ${verdict}${stale} · score ${health.health_score.toFixed(2)}\n`];
  sections.push(
    health.providers.length === 0
      ? "no providers configured\n"
      : renderTable(PROVIDER_COLUMNS, health.providers.map(providerRow), paint),
  );
  if (health.fallback_chains.length > 0) {
    const rows = health.fallback_chains.map((chain): Cell[] => [
      { text: chain.chain_id },
      { text: chain.status, color: CHAIN_COLORS[chain.status] },
      {
        text: chain.targets
          .map((target) => `${target.provider_id}/${target.model}${target.is_healthy ? "" : " (down)"}`)
          .join(" → "),
      },
    ]);
    sections.push(renderTable(CHAIN_COLUMNS, rows, paint));
  }
  return sections.join("\n");
}

const CHAIN_COLORS: Record<"healthy" | "degraded" | "down", Color> = {
  healthy: "green",
  degraded: "yellow",
  down: "red",
};
const RATE_LIMIT_COLORS: Record<ProviderHealth["rate_limit_status"], Color> = {
  OK: "green",
  THROTTLED: "yellow",
  BLOCKED: "red",
};

function providerRow(health: ProviderHealth): Cell[] {
  const status: Cell = health.is_healthy
    ? { text: "healthy", color: "green" }
    : { text: "unhealthy", color: "red" };
  if (health.stale === true) {
    status.text += ` (stale${staleAge(health.stale_age_ms)})`;
    if (health.is_healthy) status.color = "yellow";
  }
  const score = health.health_score;
  return [
    { text: health.provider_id },
    status,
    { text: score.toFixed(2), color: score >= 0.8 ? "green" : score >= 0.5 ? "yellow" : "red" },
    { text: formatCount(health.request_count) },
    { text: formatCount(health.error_count), color: health.error_count > 0 ? "yellow" : undefined },
    { text: health.request_count === 0 ? "-" : formatMs(health.average_latency_ms) },
    { text: health.rate_limit_status, color: RATE_LIMIT_COLORS[health.rate_limit_status] },
    { text: oneLine(health.last_error), color: health.last_error === null ? "dim" : undefined },
  ];
}

function staleAge(ageMs: number | null | undefined): string {
  return ageMs === null || ageMs === undefined ? "" : `, ${formatMs(ageMs)} old`;
}

function oneLine(text: string | null): string {
  if (text === null) return "-";
  const flat = text.replace(/\s+/g, " ");
  return flat.length <= LAST_ERROR_CHARS ? flat : `${flat.slice(0, LAST_ERROR_CHARS - 1)}…`;
}
