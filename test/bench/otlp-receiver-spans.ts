// Asking the bench's OTLP receiver (otlp-receiver-process.ts) how many spans it got.
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Polls the receiver until it has `expected` spans or `timeoutMs` passed; returns how many it
 * has. Every span must arrive: spans the SDK dropped (its queue full) would make the export look
 * cheaper than it is.
 */
export async function waitForSpans(
  receiverUrl: string,
  expected: number,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let received = 0;
  while (Date.now() < deadline) {
    const stats = (await (await fetch(`${receiverUrl}/stats`)).json()) as Record<string, { spans: number }>;
    received = stats["/v1/traces"]?.spans ?? 0;
    if (received >= expected) break;
    await sleep(250);
  }
  return received;
}
