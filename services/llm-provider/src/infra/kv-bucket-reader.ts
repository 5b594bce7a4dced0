import { jetstreamManager } from "@nats-io/jetstream";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { createKvBatchClient } from "./kv-batch-client.js";

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
 * from direct gets (answered by any replica), pipelined through `kv-batch-client.ts`.
 */
export interface KvBucketReader {
  /**
   * Keys matching `pattern` (a key with NATS wildcards: `abc.*`, `abc.>`; default every key), in
   * no particular order. Keys whose last record is a delete marker are included.
   */
  keys(pattern?: string): Promise<string[]>;
  /** The latest value of every key matching `pattern` that holds one. */
  entries(pattern?: string): Promise<KvEntry[]>;
  close(): void;
}

/** How long a read waits for each answer (key listing, values) unless told otherwise. */
const DEFAULT_READ_TIMEOUT_MS = 5_000;

export function createKvBucketReader(
  nc: NatsConnection,
  options: { bucket: string; timeoutMs?: number | undefined },
): KvBucketReader {
  const timeoutMs = options.timeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
  const stream = `KV_${options.bucket}`;
  const prefix = `$KV.${options.bucket}.`;
  // No `$JS.API.INFO` round trip (checkAPI): the manager is only used for stream info.
  let manager: Promise<JetStreamManager> | undefined;
  const batch = createKvBatchClient(nc, { bucket: options.bucket, timeoutMs });

  async function keys(pattern = ">"): Promise<string[]> {
    manager ??= jetstreamManager(nc, { checkAPI: false, timeout: timeoutMs });
    const jsm = await manager;
    // The server pages the subjects beyond 100 000 (JSMaxSubjectDetails); the client then asks for
    // the following pages and returns them merged. A fresh request object each time: it sets
    // `offset` on it while paging.
    const info = await jsm.streams.info(stream, { subjects_filter: prefix + pattern });
    return Object.keys(info.state.subjects ?? {})
      .filter((subject) => subject.startsWith(prefix))
      .map((subject) => subject.slice(prefix.length));
  }

  return {
    keys,
    async entries(pattern) {
      const found = await keys(pattern);
      if (found.length === 0) return [];
      const records = await batch.getLatest(found);
      const entries: KvEntry[] = [];
      records.forEach((record, index) => {
        // null: the key expired (TTL) or was purged between the listing and the read.
        if (record?.operation === "PUT")
          entries.push({ key: found[index]!, revision: record.revision, value: record.value });
      });
      return entries;
    },
    close() {
      batch.close();
    },
  };
}
