// The bench's figures: each phase, the service/forwarder ratios of each round, their median
// against the bar, as a readable report and one JSON line.
import type { LatencySummary } from "./closed-loop.js";

export type Target = "forwarder" | "service";
export const LOW_CONCURRENCY = 1;
export const HIGH_CONCURRENCY = 64;

/** Processes whose CPU is sampled, in report order. */
const PROCESS_NAMES = ["service", "forwarder", "nats-server", "upstream", "OTLP receiver", "load generator"];

export interface Phase {
  round: number;
  target: Target;
  concurrency: number;
  requests: number;
  errors: number;
  firstError: string | undefined;
  requestsPerSecond: number;
  latencyMs: LatencySummary;
  /** CPU µs per request of each sampled process during the measured phase. */
  cpuMicrosPerRequest: Record<string, number>;
  /** Machine CPU used by processes that are not the bench's, in % of all CPUs: disturbance. */
  otherLoadPercent: number;
}

export interface BenchRun {
  startedAt: string;
  sourceVersion: string;
  serviceEntry: string;
  node: string;
  cpus: number;
  clockTicksPerSecond: number;
  serviceLogLevel: string;
  events: boolean;
  telemetry: boolean;
  profiled: boolean;
  bounds: { warmup: { maxMs: number; maxRequests: number }; measure: { maxMs: number; maxRequests: number } };
  phases: Phase[];
  /** With telemetry on: spans the OTLP receiver got of those the service's requests made. */
  spans?: { expected: number; received: number };
}

/** The service against the forwarder: what "adds little" means, with everything on. */
export const BAR = {
  /** Service req/s at concurrency 64 over the forwarder's, at least. */
  minThroughputRatio: 0.6,
  /** Service CPU µs per request at concurrency 64 over the forwarder's, at most. */
  maxCpuRatio: 2,
  /** Service p50 at concurrency 1 minus the forwarder's, at most (ms). */
  maxP50DeltaMs: 0.3,
};

interface RoundRatios {
  round: number;
  throughputRatio: number;
  /** Serving-side CPU per request (servingCpu), service over forwarder: the bar's. */
  cpuRatio: number;
  /** The service process alone over the forwarder process alone. */
  ownCpuRatio: number;
  p50DeltaMs: number;
}

export interface Verdict {
  rounds: RoundRatios[];
  median: Omit<RoundRatios, "round">;
  throughputMet: boolean;
  cpuMet: boolean;
  p50Met: boolean;
  errorFree: boolean;
  spansComplete: boolean;
}

function find(run: BenchRun, round: number, target: Target, concurrency: number): Phase | undefined {
  return run.phases.find((p) => p.round === round && p.target === target && p.concurrency === concurrency);
}

/** The CPU of the process that served the phase. */
const ownCpu = (phase: Phase | undefined): number => phase?.cpuMicrosPerRequest[phase.target] ?? NaN;

/**
 * What a request cost the serving side: every process but the load generator (the service or the
 * forwarder, nats-server with the event stream, the upstream, the OTLP receiver).
 */
export function servingCpu(phase: Phase | undefined): number {
  if (!phase) return NaN;
  return Object.entries(phase.cpuMicrosPerRequest)
    .filter(([name]) => name !== "load generator")
    .reduce((sum, [, micros]) => sum + micros, 0);
}

function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function evaluate(run: BenchRun): Verdict {
  const roundNumbers = [...new Set(run.phases.map((p) => p.round))];
  const rounds = roundNumbers.map((round): RoundRatios => {
    const high = (target: Target) => find(run, round, target, HIGH_CONCURRENCY);
    const low = (target: Target) => find(run, round, target, LOW_CONCURRENCY);
    return {
      round,
      throughputRatio:
        (high("service")?.requestsPerSecond ?? NaN) / (high("forwarder")?.requestsPerSecond ?? NaN),
      cpuRatio: servingCpu(high("service")) / servingCpu(high("forwarder")),
      ownCpuRatio: ownCpu(high("service")) / ownCpu(high("forwarder")),
      p50DeltaMs: (low("service")?.latencyMs.p50 ?? NaN) - (low("forwarder")?.latencyMs.p50 ?? NaN),
    };
  });
  const middle = {
    throughputRatio: median(rounds.map((r) => r.throughputRatio)),
    cpuRatio: median(rounds.map((r) => r.cpuRatio)),
    ownCpuRatio: median(rounds.map((r) => r.ownCpuRatio)),
    p50DeltaMs: median(rounds.map((r) => r.p50DeltaMs)),
  };
  return {
    rounds,
    median: middle,
    throughputMet: middle.throughputRatio >= BAR.minThroughputRatio,
    cpuMet: middle.cpuRatio <= BAR.maxCpuRatio,
    p50Met: middle.p50DeltaMs <= BAR.maxP50DeltaMs,
    errorFree: run.phases.every((p) => p.errors === 0),
    spansComplete: run.spans === undefined || run.spans.received >= run.spans.expected,
  };
}

const fixed = (value: number, digits: number): string =>
  Number.isFinite(value) ? value.toFixed(digits) : "-";
const mark = (met: boolean): string => (met ? "PASS" : "MISS");

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0),
      )
      .join("  ");
  return [line(header), widths.map((width) => "-".repeat(width)).join("  "), ...rows.map(line)];
}

function phaseTable(run: BenchRun): string[] {
  const header = ["round target", "conc", "req/s", "p50 ms", "p90 ms", "p99 ms", "errors", "other %"];
  const cpuHeader = PROCESS_NAMES.map((name) => `${name} µs`);
  const rows = run.phases.map((p) => [
    `${p.round} ${p.target}`,
    String(p.concurrency),
    fixed(p.requestsPerSecond, 0),
    fixed(p.latencyMs.p50, 3),
    fixed(p.latencyMs.p90, 3),
    fixed(p.latencyMs.p99, 3),
    String(p.errors),
    fixed(p.otherLoadPercent, 1),
    ...PROCESS_NAMES.map((name) => fixed(p.cpuMicrosPerRequest[name] ?? NaN, 0)),
  ]);
  return table([...header, ...cpuHeader], rows);
}

export function formatReport(run: BenchRun): { lines: string[]; verdict: Verdict } {
  const verdict = evaluate(run);
  const ratioRows = verdict.rounds.map((r) => [
    String(r.round),
    fixed(r.throughputRatio, 2),
    fixed(r.cpuRatio, 2),
    fixed(r.ownCpuRatio, 2),
    fixed(r.p50DeltaMs, 3),
  ]);
  const m = verdict.median;
  const errors = run.phases
    .filter((p) => p.errors > 0)
    .map(
      (p) => `  round ${p.round} ${p.target} @${p.concurrency}: ${p.errors} errors, first: ${p.firstError}`,
    );
  const lines = [
    "",
    `llm-provider bench — ${run.startedAt}, source ${run.sourceVersion}, Node ${run.node}, ${run.cpus} CPUs` +
      (run.profiled ? ", PROFILED (--cpu-prof): figures are not representative" : ""),
    `service: node ${run.serviceEntry}, log_level ${run.serviceLogLevel}, events ${run.events ? "on" : "OFF"}, ` +
      `OpenTelemetry export ${run.telemetry ? "on (local OTLP/HTTP receiver)" : "OFF"}`,
    `per phase: warm-up ≤ ${run.bounds.warmup.maxMs} ms, measured ≤ ${run.bounds.measure.maxMs} ms; ` +
      `CPU from /proc/<pid>/stat at ${run.clockTicksPerSecond} ticks/s, µs per request of the measured phase`,
    "",
    ...phaseTable(run),
    "",
    ...table(
      [
        "round",
        `throughput ratio @${HIGH_CONCURRENCY}`,
        `serving CPU ratio @${HIGH_CONCURRENCY}`,
        `own-process CPU ratio @${HIGH_CONCURRENCY}`,
        `p50 Δ ms @${LOW_CONCURRENCY}`,
      ],
      ratioRows,
    ),
    "",
    `median throughput ratio: ${fixed(m.throughputRatio, 2)}   bar ≥ ${BAR.minThroughputRatio}   ${mark(verdict.throughputMet)}`,
    `median CPU ratio:        ${fixed(m.cpuRatio, 2)}   bar ≤ ${BAR.maxCpuRatio}   ${mark(verdict.cpuMet)}` +
      `   (serving side: all but the load generator; the service process alone: ${fixed(m.ownCpuRatio, 2)})`,
    `median p50 Δ:            ${fixed(m.p50DeltaMs, 3)} ms   bar ≤ ${BAR.maxP50DeltaMs} ms   ${mark(verdict.p50Met)}`,
    ...(run.spans ? [`spans at the OTLP receiver: ${run.spans.received} of ${run.spans.expected}`] : []),
    `errors: ${verdict.errorFree ? "none" : "SOME — figures are suspect"}`,
    ...errors,
    "",
  ];
  return { lines, verdict };
}

const round = (value: number, digits: number): number | null =>
  Number.isFinite(value) ? Number(value.toFixed(digits)) : null;

/** Every figure on one line (kept under test/bench/results/ when worth keeping). */
export function formatJson(run: BenchRun, verdict: Verdict): string {
  return JSON.stringify({
    bench: "llm-provider",
    started_at: run.startedAt,
    source: run.sourceVersion,
    node: run.node,
    cpus: run.cpus,
    events: run.events,
    telemetry: run.telemetry,
    profiled: run.profiled,
    phases: run.phases.map((p) => ({
      round: p.round,
      target: p.target,
      concurrency: p.concurrency,
      requests: p.requests,
      errors: p.errors,
      rps: round(p.requestsPerSecond, 0),
      latency_ms: Object.fromEntries(
        Object.entries(p.latencyMs).map(([k, v]: [string, number]) => [k, round(v, 3)]),
      ),
      cpu_us_per_req: Object.fromEntries(
        Object.entries(p.cpuMicrosPerRequest).map(([k, v]) => [k, round(v, 1)]),
      ),
      other_load_pct: round(p.otherLoadPercent, 1),
    })),
    rounds: verdict.rounds.map((r) => ({
      round: r.round,
      throughput_ratio: round(r.throughputRatio, 3),
      cpu_ratio: round(r.cpuRatio, 3),
      own_cpu_ratio: round(r.ownCpuRatio, 3),
      p50_delta_ms: round(r.p50DeltaMs, 3),
    })),
    median: {
      throughput_ratio: round(verdict.median.throughputRatio, 3),
      cpu_ratio: round(verdict.median.cpuRatio, 3),
      own_cpu_ratio: round(verdict.median.ownCpuRatio, 3),
      p50_delta_ms: round(verdict.median.p50DeltaMs, 3),
    },
    bar: BAR,
    met: { throughput: verdict.throughputMet, cpu: verdict.cpuMet, p50: verdict.p50Met },
    error_free: verdict.errorFree,
    ...(run.spans ? { spans: run.spans } : {}),
  });
}
