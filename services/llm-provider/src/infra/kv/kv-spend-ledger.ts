import type { NatsConnection } from "@nats-io/nats-core";
import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import { addSpend, NO_SPEND } from "../../domain/budgets.js";
import type { Spend, SpendCounter } from "../../domain/budgets.js";
import type { SpendLedger } from "../../ports/spend-ledger.js";
import { isRevisionConflict } from "./kv-revision-conflict.js";
import { toKvToken } from "./kv-token.js";

/**
 * Compare-and-set rounds before an addition gives up. Additions happen after the answer, off the
 * request's path, and each round loses only to another worker's successful write: this many
 * losses in a row means far more workers writing one caller's counter than a deployment has.
 */
const CAS_ATTEMPTS = 50;

/**
 * The key of a counter: `<caller>.<day|month>.<period start>.all`, or `….model.<model, base64url>`
 * (a model name may hold characters keys do not allow); a tagged budget's count puts
 * `tag.<hash>.` before that. A caller's keys share the prefix `<caller>.`, so a permission or a
 * listing can select them.
 */
export function spendKeyOf(counter: SpendCounter): string {
  const scope = counter.model === undefined ? "all" : `model.${toKvToken(counter.model)}`;
  const tag = counter.tag === undefined ? "" : `tag.${counter.tag}.`;
  return `${counter.caller}.${counter.period}.${counter.periodStart}.${tag}${scope}`;
}

export async function createKvSpendLedger(nc: NatsConnection, bucket: string): Promise<SpendLedger> {
  // Created by ensureJetStreamState; reads go to the stream leader, so compare-and-set sees the latest.
  const kv: KV = await new Kvm(nc).open(bucket);
  const valueOf = (entry: Awaited<ReturnType<KV["get"]>>): Spend =>
    entry && entry.value.length > 0 ? entry.json<Spend>() : NO_SPEND;
  return {
    async read(counter) {
      return valueOf(await kv.get(spendKeyOf(counter)));
    },
    async add(counter, spend) {
      const key = spendKeyOf(counter);
      for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
        const entry = await kv.get(key);
        const before = valueOf(entry);
        const after = addSpend(before, spend);
        try {
          if (entry) await kv.update(key, JSON.stringify(after), entry.revision);
          else await kv.create(key, JSON.stringify(after));
          return { before, after };
        } catch (error) {
          if (!isRevisionConflict(error)) throw error;
        }
      }
      throw new Error(`spend counter ${key} contended ${CAS_ATTEMPTS} times`);
    },
  };
}
