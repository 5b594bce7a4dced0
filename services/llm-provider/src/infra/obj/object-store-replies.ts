import { jetstream } from "@nats-io/jetstream";
import { Objm } from "@nats-io/obj";
import type { ObjectStore } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/nats-core";

/** Where the idempotency store keeps replies too large for a KV record. */
export interface ReplyObjects {
  put(name: string, bytes: Uint8Array): Promise<void>;
  /** Undefined when the object is gone (its max_age passed, or it was removed). */
  get(name: string): Promise<Uint8Array | undefined>;
  remove(name: string): Promise<void>;
}

/**
 * The replies in a NATS Object Store bucket (chunked, so a reply may be far larger than one
 * message). The bucket's max_age is the idempotency window, so an object expires with its record.
 */
export function createObjectStoreReplies(
  nc: NatsConnection,
  options: { bucket: string; timeoutMs: number },
): ReplyObjects {
  const store: Promise<ObjectStore> = new Objm(
    jetstream(nc, { timeout: options.timeoutMs, checkAPI: false }),
  ).open(options.bucket);
  store.catch(() => undefined);
  return {
    async put(name, bytes) {
      await (await store).putBlob({ name }, bytes);
    },
    async get(name) {
      return (await (await store).getBlob(name)) ?? undefined;
    },
    async remove(name) {
      await (await store).delete(name);
    },
  };
}
