// Waiting for something a test cannot await directly: polling with a bound, never a fixed sleep
// followed by a check (on a loaded 2-core machine a fixed sleep is sometimes too short).
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Until `condition` holds; resolves with the `performance.now()` at which it was first seen to
 * hold (never earlier than it became true: a bound a slow machine keeps). Throws after `timeoutMs`.
 */
export async function until(what: string, condition: () => boolean, timeoutMs = 5_000): Promise<number> {
  const end = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > end) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await sleep(10);
  }
  return performance.now();
}

/** Reads until `accept` takes the value, and returns the last value read (accepted or not, at the bound). */
export async function eventually<T>(
  read: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const end = performance.now() + timeoutMs;
  let value = await read();
  while (!accept(value) && performance.now() < end) {
    await sleep(50);
    value = await read();
  }
  return value;
}
