import type { KV } from "@nats-io/kv";

/** A window's shared count: what all workers reserved (or, past an estimate, used). */
export interface WindowUsage {
  requests: number;
  tokens: number;
}

const CAS_ATTEMPTS = 5;

export type WindowAddition = { added: WindowUsage; total: WindowUsage } | "refused" | "contended";

/** A window's shared count as the bucket holds it now; undefined for a window nobody counted in. */
export async function readWindow(kv: KV, key: string): Promise<WindowUsage | undefined> {
  const entry = await kv.get(key);
  return entry && entry.value.length > 0 ? entry.json<WindowUsage>() : undefined;
}

/**
 * Adds to a window's shared count what `plan` decides from its current value, with a
 * compare-and-set: when another worker wrote first, reads again (a few times, then `contended`).
 * `refused`: the plan found nothing it could add.
 */
export async function addToWindow(
  kv: KV,
  key: string,
  plan: (usage: WindowUsage) => WindowUsage | undefined,
): Promise<WindowAddition> {
  for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
    const entry = await kv.get(key);
    const usage: WindowUsage =
      entry && entry.value.length > 0 ? entry.json<WindowUsage>() : { requests: 0, tokens: 0 };
    const added = plan(usage);
    if (!added) return "refused";
    const total = { requests: usage.requests + added.requests, tokens: usage.tokens + added.tokens };
    try {
      if (entry) await kv.update(key, JSON.stringify(total), entry.revision);
      else await kv.create(key, JSON.stringify(total));
    } catch {
      continue; // another worker wrote at the same moment: read again
    }
    return { added, total };
  }
  return "contended";
}
