// Turns the measured phases into the floor, the service's overhead, the target verdicts, a
// readable table and one JSON line (for notes).
import type { LatencySummary } from "./closed-loop.js";

export type PhaseTarget = "echo" | "upstream" | "service";

export const PHASE_LABELS: Record<PhaseTarget, string> = {
  echo: "NATS echo responder",
  upstream: "upstream direct (HTTP)",
  service: "llm-provider complete_chat",
};

/** Processes whose CPU is sampled, in report order. */
export const PROCESS_NAMES = ["service", "nats-server", "upstream", "echo", "load generator"] as const;

export interface PhaseResult {
  target: PhaseTarget;
  /** Requests in flight (closed loop); 0 for a fixed-rate phase. */
  concurrency: number;
  /** Open-loop load at a fixed rate (BENCH_RATE), instead of a concurrency. */
  fixedRate?: { perSecond: number; maxInFlight: number; ticksAtCap: number };
  requests: number;
  errors: number;
  firstError: string | undefined;
  elapsedMs: number;
  requestsPerSecond: number;
  latencyMs: LatencySummary;
  /** CPU µs per request of each sampled process during the measured phase. */
  cpuMicrosPerRequest: Record<string, number>;
  /** The service's resident memory right after the phase. */
  serviceRssMiB: number;
  /** Machine CPU used by processes other than the bench's, in % of all CPUs: disturbance. */
  otherLoadPercent: number;
  /** CPU time the hypervisor took, in % of all CPUs. */
  stealPercent: number;
}

export interface BenchRun {
  startedAt: string;
  /** Commit of the measured code (`+dirty` with local changes). */
  sourceVersion: string;
  serviceEntry: string;
  node: string;
  cpus: number;
  clockTicksPerSecond: number;
  serviceLogLevel: string;
  profiled: boolean;
  bounds: { warmup: { maxMs: number; maxRequests: number }; measure: { maxMs: number; maxRequests: number } };
  replyBytes: { service: number; echo: number; upstream: number };
  lowConcurrency: number;
  highConcurrency: number;
  phases: PhaseResult[];
  /** With OTLP export: spans the receiver got, of those the service's requests made (2 each). */
  otlpSpans?: { received: number; expected: number };
}

export const TARGETS = {
  /** Service p50 at the low concurrency minus the floor (echo p50 + direct upstream p50). */
  maxOverheadP50Ms: 0.3,
  /** Service throughput at the high concurrency. */
  minServiceRequestsPerSecond: 3_000,
  /** Service CPU per request at the high concurrency (steady state under load). */
  maxServiceCpuMicrosPerRequest: 300,
};

export interface Verdicts {
  floorP50Ms: number;
  overheadP50Ms: number;
  serviceRequestsPerSecond: number;
  serviceCpuMicrosPerRequest: number;
  serviceCpuMicrosPerRequestLow: number;
  overheadMet: boolean;
  throughputMet: boolean;
  cpuMet: boolean;
  errorFree: boolean;
}

function phase(run: BenchRun, target: PhaseTarget, concurrency: number): PhaseResult | undefined {
  return run.phases.find((p) => p.target === target && p.concurrency === concurrency && !p.fixedRate);
}

/** The open-loop service phase (BENCH_RATE), if one ran. */
export function fixedRatePhase(run: BenchRun): PhaseResult | undefined {
  return run.phases.find((p) => p.target === "service" && p.fixedRate);
}

/** "64", or "800/s" for a fixed-rate phase. */
const loadLabel = (p: PhaseResult): string =>
  p.fixedRate ? `${p.fixedRate.perSecond}/s` : String(p.concurrency);

export function evaluate(run: BenchRun): Verdicts {
  const low = (target: PhaseTarget) => phase(run, target, run.lowConcurrency);
  const floorP50Ms = (low("echo")?.latencyMs.p50 ?? NaN) + (low("upstream")?.latencyMs.p50 ?? NaN);
  const overheadP50Ms = (low("service")?.latencyMs.p50 ?? NaN) - floorP50Ms;
  const high = phase(run, "service", run.highConcurrency);
  const serviceRequestsPerSecond = high?.requestsPerSecond ?? NaN;
  const serviceCpuMicrosPerRequest = high?.cpuMicrosPerRequest["service"] ?? NaN;
  return {
    floorP50Ms,
    overheadP50Ms,
    serviceRequestsPerSecond,
    serviceCpuMicrosPerRequest,
    serviceCpuMicrosPerRequestLow: low("service")?.cpuMicrosPerRequest["service"] ?? NaN,
    overheadMet: overheadP50Ms <= TARGETS.maxOverheadP50Ms,
    throughputMet: serviceRequestsPerSecond >= TARGETS.minServiceRequestsPerSecond,
    cpuMet: serviceCpuMicrosPerRequest <= TARGETS.maxServiceCpuMicrosPerRequest,
    errorFree: run.phases.every((p) => p.errors === 0),
  };
}

// ---------------------------------------------------------------------------------------------
// Text

const fixed = (value: number, digits: number): string =>
  Number.isFinite(value) ? value.toFixed(digits) : "-";
const verdict = (met: boolean): string => (met ? "PASS" : "MISS");

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  // First column left-aligned (names), the rest right-aligned (numbers).
  const line = (cells: string[]): string =>
    cells
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0),
      )
      .join("  ");
  return [line(header), widths.map((width) => "-".repeat(width)).join("  "), ...rows.map(line)];
}

function latencyTable(run: BenchRun): string[] {
  const header = ["phase", "conc", "requests", "errors", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms"];
  const rows = run.phases.map((p) => [
    PHASE_LABELS[p.target],
    loadLabel(p),
    String(p.requests),
    String(p.errors),
    fixed(p.requestsPerSecond, 0),
    fixed(p.latencyMs.p50, 3),
    fixed(p.latencyMs.p90, 3),
    fixed(p.latencyMs.p99, 3),
    fixed(p.latencyMs.max, 3),
  ]);
  return table(header, rows);
}

function cpuTable(run: BenchRun): string[] {
  const header = [
    "CPU µs per request",
    "conc",
    ...PROCESS_NAMES,
    "service RSS MiB",
    "other load %",
    "steal %",
  ];
  const rows = run.phases.map((p) => [
    PHASE_LABELS[p.target],
    loadLabel(p),
    ...PROCESS_NAMES.map((name) => fixed(p.cpuMicrosPerRequest[name] ?? NaN, 0)),
    p.target === "service" ? fixed(p.serviceRssMiB, 1) : "",
    fixed(p.otherLoadPercent, 1),
    fixed(p.stealPercent, 1),
  ]);
  return table(header, rows);
}

export function formatReport(run: BenchRun, verdicts: Verdicts): string[] {
  const low = run.lowConcurrency;
  const high = run.highConcurrency;
  const errorLines = run.phases
    .filter((p) => p.errors > 0)
    .map((p) => `  ${PHASE_LABELS[p.target]} @${loadLabel(p)}: ${p.errors} errors, first: ${p.firstError}`);
  const rated = fixedRatePhase(run);
  const rateLines = rated?.fixedRate
    ? [
        `service CPU per request at ${rated.fixedRate.perSecond} req/s (open loop): ` +
          `${fixed(rated.cpuMicrosPerRequest["service"] ?? NaN, 0)} µs, at most ${rated.fixedRate.maxInFlight} in flight` +
          (rated.fixedRate.ticksAtCap > 0
            ? `   RATE NOT HELD (${rated.fixedRate.ticksAtCap} ticks at the cap)`
            : ""),
      ]
    : [];
  return [
    "",
    `llm-provider benchmark — ${run.startedAt}, source ${run.sourceVersion}, Node ${run.node}, ${run.cpus} CPUs, ` +
      `service log_level: ${run.serviceLogLevel} (the production default)` +
      (run.profiled ? ", PROFILED (--cpu-prof): figures are not representative" : ""),
    `service: node ${run.serviceEntry}`,
    `warm-up ≤ ${run.bounds.warmup.maxMs} ms or ${run.bounds.warmup.maxRequests} requests, ` +
      `measured ≤ ${run.bounds.measure.maxMs} ms or ${run.bounds.measure.maxRequests} requests; ` +
      `reply bytes: service ${run.replyBytes.service}, echo ${run.replyBytes.echo}, upstream ${run.replyBytes.upstream}`,
    "",
    ...latencyTable(run),
    "",
    ...cpuTable(run),
    `(CPU from /proc/<pid>/stat at ${run.clockTicksPerSecond} ticks/s, measured phase only; all processes share the ${run.cpus} CPUs;`,
    ` other load: CPU used by processes that are not the bench's, in % of all CPUs — above a few %, the run was disturbed)`,
    "",
    `floor @${low} (p50): echo ${fixed(phase(run, "echo", low)?.latencyMs.p50 ?? NaN, 3)} ms + ` +
      `upstream ${fixed(phase(run, "upstream", low)?.latencyMs.p50 ?? NaN, 3)} ms = ${fixed(verdicts.floorP50Ms, 3)} ms`,
    `service p50 overhead over floor @${low}: ${fixed(verdicts.overheadP50Ms, 3)} ms` +
      `   target ≤ ${TARGETS.maxOverheadP50Ms} ms   ${verdict(verdicts.overheadMet)}`,
    `service throughput @${high}:            ${fixed(verdicts.serviceRequestsPerSecond, 0)} req/s` +
      `   target ≥ ${TARGETS.minServiceRequestsPerSecond} req/s   ${verdict(verdicts.throughputMet)}`,
    `service CPU per request @${high}:       ${fixed(verdicts.serviceCpuMicrosPerRequest, 0)} µs` +
      `   target ≤ ${TARGETS.maxServiceCpuMicrosPerRequest} µs   ${verdict(verdicts.cpuMet)}` +
      `   (@${low}: ${fixed(verdicts.serviceCpuMicrosPerRequestLow, 0)} µs)`,
    ...rateLines,
    `errors: ${verdicts.errorFree ? "none" : "SOME — figures are suspect"}`,
    ...errorLines,
    "",
  ];
}

// ---------------------------------------------------------------------------------------------
// JSON

const round = (value: number, digits: number): number | null =>
  Number.isFinite(value) ? Number(value.toFixed(digits)) : null;

function roundAll(values: Record<string, number>, digits: number): Record<string, number | null> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, round(value, digits)]));
}

/** Every figure on one line, rounded to what the measurement supports (µs for latencies). */
export function formatJson(run: BenchRun, verdicts: Verdicts): string {
  return JSON.stringify({
    bench: "llm-provider",
    started_at: run.startedAt,
    source: run.sourceVersion,
    service_entry: run.serviceEntry,
    node: run.node,
    cpus: run.cpus,
    service_log_level: run.serviceLogLevel,
    profiled: run.profiled,
    bounds: run.bounds,
    reply_bytes: run.replyBytes,
    phases: run.phases.map((p) => ({
      target: p.target,
      concurrency: p.concurrency,
      ...(p.fixedRate
        ? {
            fixed_rate: {
              per_second: p.fixedRate.perSecond,
              max_in_flight: p.fixedRate.maxInFlight,
              ticks_at_cap: p.fixedRate.ticksAtCap,
            },
          }
        : {}),
      requests: p.requests,
      errors: p.errors,
      elapsed_ms: round(p.elapsedMs, 1),
      rps: round(p.requestsPerSecond, 0),
      latency_ms: roundAll({ ...p.latencyMs }, 3),
      cpu_us_per_req: roundAll(p.cpuMicrosPerRequest, 1),
      ...(p.target === "service" ? { service_rss_mib: round(p.serviceRssMiB, 1) } : {}),
      other_load_pct: round(p.otherLoadPercent, 1),
      steal_pct: round(p.stealPercent, 1),
    })),
    floor_p50_ms: round(verdicts.floorP50Ms, 3),
    overhead_p50_ms: round(verdicts.overheadP50Ms, 3),
    targets: {
      overhead_p50_ms: { max: TARGETS.maxOverheadP50Ms, met: verdicts.overheadMet },
      service_rps: { min: TARGETS.minServiceRequestsPerSecond, met: verdicts.throughputMet },
      service_cpu_us_per_req: { max: TARGETS.maxServiceCpuMicrosPerRequest, met: verdicts.cpuMet },
    },
    error_free: verdicts.errorFree,
    ...(run.otlpSpans ? { otlp_spans: run.otlpSpans } : {}),
  });
}
