// What events and telemetry export cost together (issue #6) — `npm run bench:telemetry-cost`.
//
// Runs the main benchmark (run.ts) alternately without events and OpenTelemetry, and with events
// on and OTLP export to a local receiver, BENCH_ROUNDS times each (default 3), and prints the
// service's CPU per request at concurrency 64 of every run, the medians and their difference.
// Alternating and taking medians keeps a passing disturbance on this shared machine from
// deciding the result.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? 3);
const TARGET_US = 100;

interface Variant {
  name: string;
  env: Record<string, string>;
}
const VARIANTS: Variant[] = [
  { name: "events off, telemetry off", env: { BENCH_EVENTS: "off", BENCH_OTLP: "0" } },
  { name: "events on, OTLP export on", env: { BENCH_EVENTS: "on", BENCH_OTLP: "1" } },
];

interface Figures {
  cpuAt64: number;
  rpsAt64: number;
  p50At1: number;
  /** With OTLP export: spans the receiver got of those the requests made (all must arrive). */
  otlpSpans?: { received: number; expected: number };
}

function runOnce(variant: Variant): Figures {
  const result = spawnSync(
    process.execPath,
    ["--import", "tsx", "--conditions=source", "test/bench/run.ts"],
    { cwd: ROOT, env: { ...process.env, ...variant.env }, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
  );
  const line = result.stdout.split("\n").find((text) => text.startsWith('{"bench"'));
  if (result.status !== 0 || !line) {
    throw new Error(`bench run failed (${variant.name}): ${result.stderr.slice(-2_000)}`);
  }
  const run = JSON.parse(line) as {
    otlp_spans?: { received: number; expected: number };
    phases: Array<{
      target: string;
      concurrency: number;
      rps: number;
      latency_ms: { p50: number };
      cpu_us_per_req: { service: number };
    }>;
  };
  const phase = (concurrency: number) =>
    run.phases.find((entry) => entry.target === "service" && entry.concurrency === concurrency)!;
  return {
    cpuAt64: phase(64).cpu_us_per_req.service,
    rpsAt64: phase(64).rps,
    p50At1: phase(1).latency_ms.p50,
    ...(run.otlp_spans ? { otlpSpans: run.otlp_spans } : {}),
  };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

const results = new Map<string, Figures[]>(VARIANTS.map((variant) => [variant.name, []]));
for (let round = 1; round <= ROUNDS; round++) {
  for (const variant of VARIANTS) {
    const figures = runOnce(variant);
    results.get(variant.name)!.push(figures);
    console.log(
      `round ${round}  ${variant.name.padEnd(26)}  CPU @64 ${figures.cpuAt64.toFixed(0).padStart(4)} µs/req` +
        `  ${figures.rpsAt64.toFixed(0).padStart(5)} req/s @64  p50 @1 ${figures.p50At1.toFixed(3)} ms` +
        (figures.otlpSpans
          ? `  spans exported ${figures.otlpSpans.received}/${figures.otlpSpans.expected}`
          : ""),
    );
  }
}
const [without, withBoth] = VARIANTS.map((variant) =>
  median(results.get(variant.name)!.map((f) => f.cpuAt64)),
);
const added = withBoth! - without!;
// The same from each round's pair (runs next to each other share the machine's state of the moment).
const [offRuns, onRuns] = VARIANTS.map((variant) => results.get(variant.name)!.map((f) => f.cpuAt64));
const pairwise = median(onRuns!.map((cpu, index) => cpu - offRuns![index]!));
console.log(
  `\nmedian service CPU @64: ${without!.toFixed(0)} µs without, ${withBoth!.toFixed(0)} µs with events + OTLP export` +
    `\nevents + telemetry add ${added.toFixed(0)} µs CPU per request   target ≤ ${TARGET_US} µs   ${added <= TARGET_US ? "PASS" : "MISS"}` +
    `   (median of the rounds' own differences: ${pairwise.toFixed(0)} µs)`,
);
