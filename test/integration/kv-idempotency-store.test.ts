// The idempotency store's stored replies on a real nats-server: small ones inline in the KV
// record, large ones in the replies Object Store under a name of their own, an object removed
// when the record write naming it loses its compare-and-set, and a key freed when its reply
// object is gone (it expired just before the record).
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { Objm } from "@nats-io/obj";
import type { ObjectStore } from "@nats-io/obj";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IdempotencyRecord } from "../../services/llm-provider/src/domain/idempotency.js";
import { ensureKvBucket } from "../../services/llm-provider/src/infra/kv/ensure-kv-bucket.js";
import { createKvIdempotencyStore } from "../../services/llm-provider/src/infra/kv/kv-idempotency-store.js";
import { ensureObjectStore } from "../../services/llm-provider/src/infra/obj/ensure-object-store.js";
import { createObjectStoreReplies } from "../../services/llm-provider/src/infra/obj/object-store-replies.js";
import type { IdempotencyStore } from "../../services/llm-provider/src/ports/idempotency-store.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";

const BUCKET = "store_requests";
const REPLIES = "store_replies";
const INLINE_MAX_BYTES = 1_024;

let nats: NatsServerHandle;
let nc: NatsConnection;
let store: IdempotencyStore;
let objects: ObjectStore;

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  await ensureKvBucket(nc, { bucket: BUCKET, replicas: 1, ttlMs: 60_000 });
  await ensureObjectStore(nc, { bucket: REPLIES, replicas: 1, ttlMs: 60_000 });
  store = createKvIdempotencyStore(nc, {
    bucket: BUCKET,
    timeoutMs: 5_000,
    inlineMaxBytes: INLINE_MAX_BYTES,
    replies: createObjectStoreReplies(nc, { bucket: REPLIES, timeoutMs: 5_000 }),
  });
  objects = await new Objm(nc).open(REPLIES);
});

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

const running = (owner = "w1"): IdempotencyRecord => ({
  state: "running",
  fingerprint: "f",
  owner,
  lease_until: Date.now() + 10_000,
});
/** A JSON reply of about `bytes` that deflate cannot shrink much (distinct pseudo-random digits). */
function reply(bytes: number): Uint8Array {
  let state = 7;
  const digits = Array.from({ length: bytes }, () =>
    ((state = (state * 48271) % 2147483647) % 10).toString(),
  );
  return Buffer.from(JSON.stringify({ data: digits.join("") }));
}
const liveObjects = async () => (await objects.list()).filter((object) => !object.deleted).map((o) => o.name);

async function claim(key: string): Promise<number> {
  const claimed = await store.claim(key, running());
  if (!("claimed" in claimed)) throw new Error(`${key} was already claimed`);
  return claimed.claimed;
}

async function readBack(key: string) {
  const found = await store.claim(key, running());
  if (!("existing" in found)) throw new Error(`${key} had no record`);
  return found.existing;
}

describe("stored replies", () => {
  it("keeps a small reply in the record and a large one as an object the record names", async () => {
    const small = reply(200);
    await store.replace("small", { state: "done", fingerprint: "f", reply: small }, await claim("small"));
    const large = reply(20_000);
    const before = await liveObjects();
    await store.replace("large", { state: "done", fingerprint: "f", reply: large }, await claim("large"));

    const kv = await new Kvm(nc).open(BUCKET);
    expect((await kv.get("small"))!.length).toBeLessThanOrEqual(INLINE_MAX_BYTES);
    expect((await kv.get("large"))!.length).toBeLessThanOrEqual(INLINE_MAX_BYTES);
    const added = (await liveObjects()).filter((name) => !before.includes(name));
    expect(added).toHaveLength(1);
    expect(added[0]!.startsWith("large.")).toBe(true);

    for (const [key, bytes] of [
      ["small", small],
      ["large", large],
    ] as const) {
      const { record } = await readBack(key);
      expect(record.state).toBe("done");
      expect(Buffer.from((record as { reply: Uint8Array }).reply).equals(Buffer.from(bytes))).toBe(true);
    }
  });

  it("removes the object of a write that lost its compare-and-set", async () => {
    const revision = await claim("lost");
    // Another worker took the claim over meanwhile.
    const taken = await store.replace("lost", running("w2"), revision);
    expect(taken).toBeGreaterThan(revision);
    const before = await liveObjects();
    const written = await store.replace(
      "lost",
      { state: "done", fingerprint: "f", reply: reply(20_000) },
      revision,
    );
    expect(written).toBeUndefined();
    expect(await liveObjects()).toEqual(before);
    expect((await readBack("lost")).record).toMatchObject({ state: "running", owner: "w2" });
  });

  it("frees the key when its reply object is gone, so the next request is served afresh", async () => {
    const before = await liveObjects();
    await store.replace(
      "expired",
      { state: "done", fingerprint: "f", reply: reply(20_000) },
      await claim("expired"),
    );
    const object = (await liveObjects()).find((name) => !before.includes(name))!;
    await objects.delete(object);
    const next = await store.claim("expired", running());
    expect(next).toHaveProperty("claimed");
  });
});
