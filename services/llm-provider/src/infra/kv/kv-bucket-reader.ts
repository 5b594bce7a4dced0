import { jetstream } from "@nats-io/jetstream";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";

/** A key's latest value (PUT records only: deleted and purged keys are left out). */
export interface KvEntry {
  key: string;
  revision: number;
  value: Uint8Array;
}

/**
 * Lists and reads a KV bucket without a consumer. `kv.keys()` and `kv.watch()` create an
 * ephemeral (ordered) consumer, which nats-server < 2.12 may place on a node that is down
 * (nats-io/nats-server#7165): the call then waits out its timeout. Here the keys come from the
 * bucket stream's info with a `subjects_filter` (answered by the stream leader) and the values
 * from `kv.get` — direct gets, answered by any replica, when the bucket allows them
 * (docs/decisions/0006-kv-keys-without-consumer.md).
 */
export interface KvBucketReader {
  /**
   * Keys matching `pattern` (a key with NATS wildcards: `abc.*`, `abc.>`; default every key), in
   * no particular order. Keys whose last record is a delete marker are included.
   */
  keys(pattern?: string): Promise<string[]>;
  /** The latest value of every key matching `pattern` that holds one. */
  entries(pattern?: string): Promise<KvEntry[]>;
}

/** How long a read waits for each answer (key listing, values) unless told otherwise. */
const DEFAULT_READ_TIMEOUT_MS = 5_000;

export function createKvBucketReader(
  nc: NatsConnection,
  options: { bucket: string; timeoutMs?: number | undefined },
): KvBucketReader {
  const stream = `KV_${options.bucket}`;
  const prefix = `$KV.${options.bucket}.`;
  // No `$JS.API.INFO` round trip (checkAPI) when the manager and the KV views are made.
  const js: JetStreamClient = jetstream(nc, {
    timeout: options.timeoutMs ?? DEFAULT_READ_TIMEOUT_MS,
    checkAPI: false,
  });
  let manager: Promise<JetStreamManager> | undefined;
  /** The bucket read with direct gets (true) or through the stream leader (false). */
  const views = new Map<boolean, Promise<KV>>();

  function view(direct: boolean): Promise<KV> {
    let kv = views.get(direct);
    if (!kv) views.set(direct, (kv = new Kvm(js).open(options.bucket, { allow_direct: direct })));
    return kv;
  }

  /** The keys, and whether the bucket answers direct gets (its stream's `allow_direct`). */
  async function list(pattern = ">"): Promise<{ keys: string[]; direct: boolean }> {
    manager ??= js.jetstreamManager(false);
    const jsm = await manager;
    // The server pages the subjects beyond 100 000 (JSMaxSubjectDetails); the client then asks for
    // the following pages and returns them merged. A fresh request object each time: it sets
    // `offset` on it while paging.
    const info = await jsm.streams.info(stream, { subjects_filter: prefix + pattern });
    const keys = Object.keys(info.state.subjects ?? {})
      .filter((subject) => subject.startsWith(prefix))
      .map((subject) => subject.slice(prefix.length));
    return { keys, direct: info.config.allow_direct === true };
  }

  return {
    keys: async (pattern) => (await list(pattern)).keys,
    async entries(pattern) {
      const { keys, direct } = await list(pattern);
      if (keys.length === 0) return [];
      const kv = await view(direct);
      const records = await Promise.all(keys.map((key) => kv.get(key)));
      const entries: KvEntry[] = [];
      for (const record of records) {
        // null: the key expired (TTL) or was purged between the listing and the read.
        if (record?.operation === "PUT")
          entries.push({ key: record.key, revision: record.revision, value: record.value });
      }
      return entries;
    },
  };
}
