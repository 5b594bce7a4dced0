// Turns the embeddings benchmark's phases into a table, the two verdicts and one JSON line.
import { availableParallelism } from "node:os";
import type { LatencySummary } from "./closed-loop.js";

export interface PhaseResult {
  label: string;
  requests: number;
  errors: number;
  firstError: string | undefined;
  latencyMs: LatencySummary;
  /** CPU µs per request of each sampled process during the measured phase. */
  cpuMicrosPerRequest: Record<string, number>;
}

/** The targets. */
export const TARGETS = { hitP50Ms: 0.6, halfCachedOverUpstreamMs: 2 };

/** Labels the verdicts read; the phases are looked up by them. */
export const PHASE = {
  echo: "NATS echo round trip",
  floor: "service floor: list_models",
  hitFloats: "cache hit, floats (1536 dims)",
  hitBase64: "cache hit, base64 (1536 dims)",
  upstream: "upstream direct, 128 new texts",
  bucketWrites: "bucket: 128 claims + 128 vector writes",
  halfCached: "service 256, half cached",
  allCached: "service 256, all cached",
} as const;

const fixed = (value: number, digits = 3) => (Number.isFinite(value) ? value.toFixed(digits) : "-");

function table(phases: readonly PhaseResult[]): string[] {
  const header = [
    "phase @1",
    "requests",
    "errors",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "CPU µs/req service",
    "nats-server",
  ];
  const rows = phases.map((phase) => [
    phase.label,
    String(phase.requests),
    String(phase.errors),
    fixed(phase.latencyMs.p50),
    fixed(phase.latencyMs.p90),
    fixed(phase.latencyMs.p99),
    fixed(phase.cpuMicrosPerRequest["service"] ?? NaN, 0),
    fixed(phase.cpuMicrosPerRequest["nats-server"] ?? NaN, 0),
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]!.length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join("  ");
  return [line(header), widths.map((width) => "-".repeat(width)).join("  "), ...rows.map(line)];
}

/** Prints the report; returns whether every phase was error-free. */
export function report(phases: readonly PhaseResult[]): boolean {
  const p50 = (label: string) => phases.find((phase) => phase.label.startsWith(label))?.latencyMs.p50 ?? NaN;
  const hit = p50(PHASE.hitFloats);
  const upstream = p50(PHASE.upstream);
  const half = p50(PHASE.halfCached);
  const errorFree = phases.every((phase) => phase.errors === 0);
  const verdict = (met: boolean) => (met ? "PASS" : "MISS");
  const lines = [
    "",
    `llm-provider embeddings benchmark — ${new Date().toISOString()}, Node ${process.versions.node}, ` +
      `${availableParallelism()} CPUs (CPU per request from /proc; nats-server's includes its idle spinning)`,
    "",
    ...table(phases),
    "",
    `cache hit p50 (one 1536-dim vector, floats): ${fixed(hit)} ms   target ≤ ${TARGETS.hitP50Ms} ms   ` +
      `${verdict(hit <= TARGETS.hitP50Ms)}   (base64: ${fixed(p50(PHASE.hitBase64))} ms; ` +
      `NATS round trip ${fixed(p50(PHASE.echo))} ms, service floor ${fixed(p50(PHASE.floor))} ms)`,
    `256-item batch, half cached: ${fixed(half)} ms = upstream call for the other half ${fixed(upstream)} ms + ` +
      `${fixed(half - upstream)} ms   target ≤ +${TARGETS.halfCachedOverUpstreamMs} ms   ` +
      `${verdict(half - upstream <= TARGETS.halfCachedOverUpstreamMs)}   ` +
      `(the bucket writes of its misses alone: ${fixed(p50(PHASE.bucketWrites))} ms)`,
    `errors: ${errorFree ? "none" : "SOME — figures are suspect"}`,
    ...phases.filter((phase) => phase.errors > 0).map((phase) => `  ${phase.label}: ${phase.firstError}`),
    "",
  ];
  for (const text of lines) process.stdout.write(`${text}\n`);
  process.stdout.write(
    `${JSON.stringify({
      bench: "llm-provider-embeddings",
      phases: phases.map((phase) => ({ ...phase, firstError: undefined })),
      hit_p50_ms: hit,
      half_cached_over_upstream_ms: half - upstream,
      targets: TARGETS,
      error_free: errorFree,
    })}\n`,
  );
  return errorFree;
}
