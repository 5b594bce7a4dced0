import { describe, expect, it } from "vitest";
import {
  decideOnRecord,
  idempotencyKey,
  isFinalFailure,
  markReplayed,
  requestFingerprint,
} from "./idempotency.js";

const body = { model: "m", messages: [{ role: "user", content: "Hi" }] };
const fingerprint = requestFingerprint(body);

describe("idempotencyKey", () => {
  it("differs by caller and subject for the same request id, so no caller names another's request", () => {
    const keys = new Set([
      idempotencyKey("llm-provider.cmd.complete_chat", "memory", "order-1"),
      idempotencyKey("llm-provider.cmd.complete_chat", "ingest", "order-1"),
      idempotencyKey("llm-provider.cmd.generate_embedding", "memory", "order-1"),
      idempotencyKey("llm-provider.cmd.complete_chat", "memoryo", "rder-1"),
    ]);
    expect(keys.size).toBe(4);
    expect([...keys][0]).toMatch(/^[0-9a-f]{64}$/); // a valid KV key
  });
});

describe("requestFingerprint", () => {
  it("ignores timeout_ms (a retry has less time left) but nothing else", () => {
    expect(requestFingerprint({ ...body, timeout_ms: 30_000 })).toBe(fingerprint);
    expect(requestFingerprint({ ...body, temperature: 0.2 })).not.toBe(fingerprint);
  });
});

describe("decideOnRecord", () => {
  const now = 1_000_000;
  it("replays a finished request, repeats a final failure, waits for a live claim, takes over a dead one", () => {
    const reply = new TextEncoder().encode('{"id":"c"}');
    expect(decideOnRecord({ state: "done", fingerprint, reply }, fingerprint, now)).toEqual({
      kind: "replay",
      reply,
    });
    const error = { code: "upstream_bad_request" as const, message: "bad", retryable: false };
    expect(decideOnRecord({ state: "failed", fingerprint, error }, fingerprint, now)).toEqual({
      kind: "fail",
      error,
    });
    const claim = { state: "running" as const, fingerprint, owner: "w1", lease_until: now + 500 };
    expect(decideOnRecord(claim, fingerprint, now)).toEqual({ kind: "wait", leaseUntil: now + 500 });
    expect(decideOnRecord(claim, fingerprint, now + 500)).toEqual({ kind: "take_over" });
  });

  it("refuses another body under the same id, whatever state its record is in", () => {
    expect(
      decideOnRecord(
        { state: "done", fingerprint, reply: new Uint8Array() },
        requestFingerprint({ ...body, seed: 1 }),
        0,
      ),
    ).toEqual({
      kind: "mismatch",
    });
  });
});

describe("markReplayed", () => {
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  const bytes = (json: string) => new TextEncoder().encode(json);

  it("adds the marker as the last member, leaving every byte before it as it was", () => {
    const original = '{"request_id":"r1","data":[{"embedding":[0.5,-1]}],"warnings":[]}';
    const marked = text(markReplayed(bytes(original)));
    expect(marked).toBe(`${original.slice(0, -1)},"replayed":true}`);
    expect(JSON.parse(marked)).toEqual({ ...JSON.parse(original), replayed: true });
  });

  it("handles an empty object and trailing whitespace, and refuses what is not an object", () => {
    expect(JSON.parse(text(markReplayed(bytes("{ }\n"))))).toEqual({ replayed: true });
    expect(JSON.parse(text(markReplayed(bytes('{"a":1}\n'))))).toEqual({ a: 1, replayed: true });
    expect(() => markReplayed(bytes("[1]"))).toThrow(/not a JSON object/);
  });
});

describe("isFinalFailure", () => {
  it("keeps what would fail again, not what a retry may fix or a cancellation", () => {
    expect(isFinalFailure({ code: "upstream_bad_request", message: "", retryable: false })).toBe(true);
    expect(isFinalFailure({ code: "upstream_unavailable", message: "", retryable: true })).toBe(false);
    expect(isFinalFailure({ code: "cancelled", message: "", retryable: false })).toBe(false);
  });
});
