import { jetstream, JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { LlmProviderError } from "@llm-provider/contracts";
import { isRevisionConflict } from "./kv-revision-conflict.js";

/** The one key of the live configuration bucket. */
export const LIVE_CONFIG_KEY = "config";

/** The stored live sections, and the KV revision that wrote them. */
export interface StoredConfig {
  revision: number;
  sections: unknown;
}

/** The live configuration in KV: read by direct get (no consumer, decision 0006), written by CAS. */
export interface LiveConfigStore {
  /** The stored configuration, or undefined when nothing was ever applied (no bucket, or no key). */
  read(): Promise<StoredConfig | undefined>;
  /**
   * Writes `sections` if the stored revision is still `expectRevision` (0: nothing stored yet);
   * the new revision, or a `revision_conflict` when another write came first.
   */
  write(sections: unknown, expectRevision: number): Promise<number>;
}

export function createKvLiveConfigStore(
  nc: NatsConnection,
  options: { bucket: string; timeoutMs: number },
): LiveConfigStore {
  let opened: Promise<KV> | undefined;
  const kv = () => {
    // A failed open (KV unreachable) is tried again on the next call.
    opened ??= new Kvm(jetstream(nc, { timeout: options.timeoutMs, checkAPI: false }))
      .open(options.bucket)
      .catch((error: unknown) => {
        opened = undefined;
        throw error;
      });
    return opened;
  };
  return {
    async read() {
      try {
        const entry = await (await kv()).get(LIVE_CONFIG_KEY);
        if (entry === null || entry.operation !== "PUT") return undefined;
        return { revision: entry.revision, sections: entry.json<unknown>() };
      } catch (error) {
        if (isMissingBucket(error)) return undefined;
        throw error;
      }
    },
    async write(sections, expectRevision) {
      const data = JSON.stringify(sections);
      try {
        const store = await kv();
        return expectRevision === 0
          ? await store.create(LIVE_CONFIG_KEY, data)
          : await store.update(LIVE_CONFIG_KEY, data, expectRevision);
      } catch (error) {
        if (isMissingBucket(error))
          throw new LlmProviderError(
            "not_found",
            `the live configuration bucket ${options.bucket} does not exist: the first apply is ` +
              "`llm-provider config apply --file …` as the config admin (it creates the bucket)",
            { field: "bucket" },
          );
        if (!isRevisionConflict(error)) throw error;
        throw new LlmProviderError(
          "revision_conflict",
          `the stored configuration is no longer at revision ${expectRevision}: another apply came first; ` +
            "run `config diff` against the new one and apply again",
          { field: "expect_revision" },
        );
      }
    },
  };
}

/** No bucket: nothing was ever applied (the stream lookup's error, typed or, from a bound bucket's get, by message). */
function isMissingBucket(error: unknown): boolean {
  return (
    (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) ||
    (error instanceof Error && error.message === "stream not found")
  );
}
