import type { StreamMessage } from "@llm-provider/contracts";
import { describe, expect, it } from "vitest";
import { BrokenStreamError, MessageBatcher, ResumeCursor, resumableSubject } from "./resumable-stream.js";

const chunk = (seq: number, content = `c${seq}`): StreamMessage => ({
  type: "chunk",
  seq,
  request_id: "r",
  delta: { content },
});
const failed = (seq: number): StreamMessage => ({
  type: "error",
  seq,
  request_id: "r",
  error: { code: "upstream_unavailable", message: "gone", retryable: true },
  attempts: [],
});

describe("resumableSubject", () => {
  it("puts the caller in its own token and hashes the request id into one token", () => {
    const subject = resumableSubject("memory", "order.4711:a/b");
    expect(subject).toMatch(/^llm-provider\.resumable\.memory\.[0-9a-f]{64}$/);
    expect(resumableSubject("memory", "order.4711:a/b")).toBe(subject);
    expect(resumableSubject("query", "order.4711:a/b")).not.toBe(subject);
    expect(resumableSubject("memory", "order.4712:a/b")).not.toBe(subject);
  });
});

describe("MessageBatcher", () => {
  it("gathers chunks until sealed and writes them as one JSON array in seq order", () => {
    const batcher = new MessageBatcher(64 * 1024);
    expect(batcher.add(chunk(0))).toBe(false);
    expect(batcher.add(chunk(1))).toBe(false);
    const batch = batcher.seal()!;
    expect(batch).toMatchObject({ firstSeq: 0, lastSeq: 1, terminal: false });
    expect(JSON.parse(batch.json)).toEqual([chunk(0), chunk(1)]);
    expect(batcher.empty).toBe(true);
    expect(batcher.seal()).toBeUndefined();
    batcher.add(chunk(2));
    expect(batcher.seal()).toMatchObject({ firstSeq: 2, lastSeq: 2 });
  });

  it("is due at once for the terminal message", () => {
    const batcher = new MessageBatcher(64 * 1024);
    batcher.add(chunk(0));
    expect(batcher.add(failed(1))).toBe(true);
    expect(batcher.seal()).toMatchObject({ firstSeq: 0, lastSeq: 1, terminal: true });
  });

  it("is due at once when the batch reaches its byte limit, which it never passes by more than a message", () => {
    const batcher = new MessageBatcher(1_024);
    let seq = 0;
    while (!batcher.add(chunk(seq, "x".repeat(100)))) seq++;
    const batch = batcher.seal()!;
    expect(Buffer.byteLength(batch.json)).toBeGreaterThanOrEqual(1_024);
    expect(Buffer.byteLength(batch.json)).toBeLessThan(1_024 + 200);
    expect((JSON.parse(batch.json) as StreamMessage[]).map((m) => m.seq)).toEqual(
      Array.from({ length: seq + 1 }, (_v, index) => index),
    );
  });
});

describe("ResumeCursor", () => {
  it("yields only the messages after the caller's last seq, each once, and ends at the terminal one", () => {
    const cursor = new ResumeCursor(2);
    expect(cursor.take([chunk(0), chunk(1)])).toEqual([]);
    expect(cursor.take([chunk(2), chunk(3), chunk(4)]).map((m) => m.seq)).toEqual([3, 4]);
    // The same batch written twice (a retried write) gives nothing new.
    expect(cursor.take([chunk(3), chunk(4)])).toEqual([]);
    expect(cursor.ended).toBe(false);
    expect(cursor.take([chunk(5), failed(6)]).map((m) => m.type)).toEqual(["chunk", "error"]);
    expect(cursor.ended).toBe(true);
    expect(cursor.take([chunk(7)])).toEqual([]);
  });

  it("from -1 yields the whole stream", () => {
    expect(new ResumeCursor(-1).take([chunk(0), chunk(1)]).map((m) => m.seq)).toEqual([0, 1]);
  });

  it("refuses a gap instead of skipping messages", () => {
    const cursor = new ResumeCursor(0);
    expect(() => cursor.take([chunk(2)])).toThrow(BrokenStreamError);
  });
});
