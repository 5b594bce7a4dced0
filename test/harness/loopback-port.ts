// Ports for test servers that must start again on the same port (restart(), a cluster node).
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/** Lowest port chosen; below it lie the well-known and registered services a machine may run. */
const LOWEST = 10_000;

/** The first port of the kernel's ephemeral range (outgoing connections, `listen(0)`). */
function ephemeralRangeStart(): number {
  try {
    const [start] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/);
    const port = Number(start);
    if (Number.isInteger(port) && port > 0) return port;
  } catch {
    // not Linux: assume the kernel default
  }
  return 32_768;
}

async function kernelChosenPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function isFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * A loopback port free right now, below the kernel's ephemeral range. A port the kernel chose for a
 * listener is, once that listener stops, free for it to give an outgoing connection (even a
 * client's reconnect to that very port connects to itself), and a server restarted there could not
 * bind it. Random, so that test files started together rarely pick the same one; a caller that
 * loses that race gets "address already in use" and chooses again.
 */
export async function chooseLoopbackPort(): Promise<number> {
  const end = ephemeralRangeStart();
  // A machine whose ephemeral range starts low leaves no room below it: the kernel chooses then.
  if (end - LOWEST < 1_000) return kernelChosenPort();
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (end - LOWEST));
    if (await isFree(port)) return port;
  }
  throw new Error(`no free loopback port between ${LOWEST} and ${end}`);
}

/**
 * Whether a start failed because one of `ports` was taken after it was chosen (nats-server names
 * the address it could not bind: a node's client port and its route port fail apart).
 */
export function isAddressInUse(error: unknown, ports: readonly number[]): boolean {
  const text = String(error);
  return /address already in use/i.test(text) && ports.some((port) => text.includes(`127.0.0.1:${port}`));
}
