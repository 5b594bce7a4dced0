// CPU time and resident memory of any process, read from Linux's /proc.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** Kernel clock ticks per second, the unit of utime/stime in /proc/<pid>/stat. */
export const CLOCK_TICKS_PER_SECOND = readClockTicks();

function readClockTicks(): number {
  try {
    const ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100; // the Linux default
  }
}

/**
 * CPU time the process has used so far, in µs: the scheduler's own nanosecond count of every
 * thread (`/proc/<pid>/task/<tid>/schedstat`, first field). The tick-based utime + stime of
 * `/proc/<pid>/stat` charge a whole 10 ms tick to whoever runs when it strikes: over a 2 s slice
 * at 800 req/s that alone is ±6 µs per request. Threads that ended are not counted (Node's live as
 * long as the process); without schedstat, the ticks.
 */
export function processCpuMicros(pid: number): number {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return processTickCpuMicros(pid);
  }
  let nanos = 0;
  for (const task of tasks) {
    try {
      nanos += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return Number.isFinite(nanos) && nanos > 0 ? nanos / 1000 : processTickCpuMicros(pid);
}

/** User + system CPU time the process has used so far, in µs (resolution: one clock tick). */
function processTickCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Field 2 (the command name) is in parentheses and may hold spaces: split after the last ')'.
  // What remains starts at field 3, so utime (field 14) and stime (field 15) are at 11 and 12.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1_000_000) / CLOCK_TICKS_PER_SECOND;
}

/**
 * Read and write system calls the process has made so far (`syscr` + `syscw` of /proc/<pid>/io).
 * On a VM a socket system call costs tens of µs of CPU, so their count per request explains CPU
 * differences that timing noise hides, and unlike time it does not drift with the machine.
 */
export function processSystemCalls(pid: number): number {
  const io = readFileSync(`/proc/${pid}/io`, "utf8");
  const count = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(io)?.[1] ?? Number.NaN);
  return count("syscr") + count("syscw");
}

/** Resident set size in MiB (`VmRSS` of /proc/<pid>/status). */
export function processRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  return kib === undefined ? Number.NaN : Number(kib) / 1024;
}

export type CpuSnapshot = ReadonlyMap<string, number>;

/** CPU µs of each named process now; a process that is gone reads as NaN. */
export function snapshotCpu(pids: ReadonlyMap<string, number>): CpuSnapshot {
  const snapshot = new Map<string, number>();
  for (const [name, pid] of pids) {
    try {
      snapshot.set(name, processCpuMicros(pid));
    } catch {
      snapshot.set(name, Number.NaN);
    }
  }
  return snapshot;
}

/** CPU µs each process used between two snapshots, per request. */
export function cpuMicrosPerRequest(
  before: CpuSnapshot,
  after: CpuSnapshot,
  requests: number,
): Record<string, number> {
  const perRequest: Record<string, number> = {};
  for (const [name, end] of after) {
    const start = before.get(name) ?? Number.NaN;
    perRequest[name] = requests > 0 ? (end - start) / requests : Number.NaN;
  }
  return perRequest;
}

export interface MachineCpu {
  /** CPU µs all CPUs together spent busy (user, nice, system, irq, softirq) since boot. */
  busyMicros: number;
  /** CPU µs the hypervisor gave to others while we wanted to run (0 where not reported). */
  stealMicros: number;
}

/** The aggregate `cpu` line of /proc/stat. */
export function machineCpu(): MachineCpu {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const toMicros = (ticks: number): number => (ticks * 1_000_000) / CLOCK_TICKS_PER_SECOND;
  return { busyMicros: toMicros(user + nice + system + irq + softirq), stealMicros: toMicros(steal) };
}
