// Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): where the CPU went during given time
// windows, by function (self and inclusive time) and by package. Samples are timestamped on the
// monotonic clock that `process.hrtime` reads, so the bench can pass its measured phases.
import { readFile } from "node:fs/promises";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A span of monotonic time in µs (`process.hrtime.bigint() / 1000n`). */
export interface TimeWindow {
  startUs: number;
  endUs: number;
}

export interface ProfileEntry {
  name: string;
  ms: number;
  /** Share of the busy (non-idle) time in the windows. */
  percent: number;
}

export interface ProfileSummary {
  /** Sampled time inside the windows, idle included. */
  windowMs: number;
  idleMs: number;
  bySelf: ProfileEntry[];
  byInclusive: ProfileEntry[];
  byPackage: ProfileEntry[];
  /** Share of busy time with the package anywhere on the stack (what it costs, callees included). */
  byPackageInclusive: ProfileEntry[];
}

const IDLE = "(idle)";
/** Frames that are on every stack or say nothing about where work happens. */
const NOT_INTERESTING_INCLUSIVE = new Set(["(root)", "(program)", IDLE, "processTicksAndRejections"]);

export async function summarizeCpuProfile(
  path: string,
  windows: readonly TimeWindow[],
  top: number,
): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(path, "utf8")) as CpuProfile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = parentsOf(profile.nodes);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const byPackage = new Map<string, number>();
  const byPackageInclusive = new Map<string, number>();
  let windowUs = 0;
  let idleUs = 0;

  forEachSampleIn(profile, windows, (nodeId, durationUs) => {
    const node = nodes.get(nodeId);
    if (!node) return;
    windowUs += durationUs;
    if (node.callFrame.functionName === IDLE) {
      idleUs += durationUs;
      return;
    }
    add(self, describeFrame(node.callFrame), durationUs);
    add(byPackage, packageOf(node.callFrame), durationUs);
    // Each function and package on the stack once, however often it recurses.
    const functionsOnStack = new Set<string>();
    const packagesOnStack = new Set<string>();
    for (let id: number | undefined = nodeId; id !== undefined; id = parents.get(id)) {
      const frame = nodes.get(id)?.callFrame;
      if (!frame || NOT_INTERESTING_INCLUSIVE.has(frame.functionName)) continue;
      functionsOnStack.add(describeFrame(frame));
      packagesOnStack.add(packageOf(frame));
    }
    for (const name of functionsOnStack) add(inclusive, name, durationUs);
    for (const name of packagesOnStack) add(byPackageInclusive, name, durationUs);
  });

  const busyUs = windowUs - idleUs;
  return {
    windowMs: windowUs / 1000,
    idleMs: idleUs / 1000,
    bySelf: ranked(self, busyUs, top),
    byInclusive: ranked(inclusive, busyUs, top),
    byPackage: ranked(byPackage, busyUs, top),
    byPackageInclusive: ranked(byPackageInclusive, busyUs, top),
  };
}

/** Calls `visit` with each sample inside a window and the time it stands for (until the next sample). */
function forEachSampleIn(
  profile: CpuProfile,
  windows: readonly TimeWindow[],
  visit: (nodeId: number, durationUs: number) => void,
): void {
  const inWindow = (t: number): boolean => windows.some((w) => t >= w.startUs && t < w.endUs);
  let time = profile.startTime;
  const count = profile.samples.length;
  for (let i = 0; i < count; i++) {
    time += profile.timeDeltas[i] ?? 0;
    const durationUs = profile.timeDeltas[i + 1] ?? 0;
    const nodeId = profile.samples[i];
    if (nodeId !== undefined && inWindow(time)) visit(nodeId, durationUs);
  }
}

function parentsOf(nodes: readonly ProfileNode[]): Map<number, number> {
  const parents = new Map<number, number>();
  for (const node of nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  return parents;
}

function add(totals: Map<string, number>, key: string, value: number): void {
  totals.set(key, (totals.get(key) ?? 0) + value);
}

function ranked(totals: Map<string, number>, busyUs: number, top: number): ProfileEntry[] {
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => ({ name, ms: us / 1000, percent: busyUs > 0 ? (100 * us) / busyUs : 0 }));
}

function describeFrame(frame: CallFrame): string {
  const name = frame.functionName || "(anonymous)";
  if (!frame.url) return name;
  return `${name}  ${shortenUrl(frame.url)}:${frame.lineNumber + 1}`;
}

function shortenUrl(url: string): string {
  const inModules = url.lastIndexOf("/node_modules/");
  if (inModules >= 0) return url.slice(inModules + "/node_modules/".length);
  const inRepo = url.search(/\/(services|contracts)\//);
  return inRepo >= 0 ? url.slice(inRepo + 1) : url;
}

/** npm package, the service or contracts, Node core, or the V8 pseudo-frame (GC, program, native). */
function packageOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith("(") ? functionName : "(V8 builtins / native)";
  // Node's bundled undici is its WHATWG fetch: Response, Headers, body mixins.
  if (url.startsWith("node:internal/deps/undici")) return "node core: WHATWG fetch (Response, Headers)";
  if (url.startsWith("node:internal/webstreams")) return "node core: web streams";
  if (url.startsWith("node:")) return "node core";
  const inModules = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (inModules?.[1]) return inModules[1];
  if (url.includes("/services/llm-provider/")) return "llm-provider (service)";
  if (url.includes("/contracts/")) return "@llm-provider/contracts";
  return url;
}

/** The summary as report lines: by package (self, inclusive), then top functions (self, inclusive). */
export function formatProfile(summary: ProfileSummary, title: string): string[] {
  const entries = (heading: string, list: ProfileSummary["bySelf"]) => [
    heading,
    ...list.map(
      (e) => `  ${e.ms.toFixed(0).padStart(7)} ms  ${e.percent.toFixed(1).padStart(5)} %  ${e.name}`,
    ),
  ];
  const busyMs = summary.windowMs - summary.idleMs;
  return [
    "",
    `== ${title}: sampled ${summary.windowMs.toFixed(0)} ms, busy ${busyMs.toFixed(0)} ms ` +
      `(on CPU or waiting for one), idle ${summary.idleMs.toFixed(0)} ms; % of busy`,
    ...entries("by package (self time):", summary.byPackage),
    ...entries("by package (inclusive: on the stack):", summary.byPackageInclusive),
    ...entries("top functions by self time:", summary.bySelf),
    ...entries("top functions by inclusive time:", summary.byInclusive),
  ];
}
