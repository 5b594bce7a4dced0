import { describe, expect, it } from "vitest";
import { compressReply, expandReply, frameDone, parseStoredValue } from "./idempotency-record-codec.js";

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

describe("stored replies", () => {
  it("deflates JSON replies and gives back the same bytes, small ones and large ones", async () => {
    for (const count of [8, 20_000]) {
      const reply = json({
        data: Array.from({ length: count }, (_, i) => ({ index: i, embedding: [0.125, -0.5] })),
      });
      const { codec, bytes } = await compressReply(reply);
      expect(codec).toBe("deflate");
      expect(bytes.length).toBeLessThan(reply.length / 2);
      expect(Buffer.from(await expandReply(codec, bytes)).equals(reply)).toBe(true);
    }
  });

  it("keeps a reply that does not compress as it is", async () => {
    const random = Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 167 + 13) % 251));
    const { codec, bytes } = await compressReply(random);
    expect(codec).toBe("none");
    expect(bytes).toBe(random);
  });
});

describe("stored values", () => {
  it("frames a finished record as a header line and the reply bytes after it", () => {
    const body = new Uint8Array([0x0a, 1, 2, 0x0a]); // compressed bytes may hold newlines
    const header = { state: "done" as const, fingerprint: "f", reply: { codec: "deflate" as const } };
    expect(parseStoredValue(frameDone(header, body))).toEqual({ done: header, body });
  });

  it("reads claims, failures, and a finished record of the earlier all-JSON form", () => {
    const claim = { state: "running", fingerprint: "f", owner: "w", lease_until: 5 };
    expect(parseStoredValue(json(claim))).toEqual({ record: claim });
    const legacy = parseStoredValue(json({ state: "done", fingerprint: "f", reply: { id: "c", n: 1 } }));
    expect(legacy).toMatchObject({ record: { state: "done", fingerprint: "f" } });
    const reply = (legacy as { record: { reply: Uint8Array } }).record.reply;
    expect(Buffer.from(reply).toString()).toBe('{"id":"c","n":1}');
  });
});
