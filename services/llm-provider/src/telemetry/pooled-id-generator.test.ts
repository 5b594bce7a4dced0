import type * as crypto from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { PooledIdGenerator } from "./pooled-id-generator.js";

describe("PooledIdGenerator", () => {
  afterEach(() => {
    vi.doUnmock("node:crypto");
    vi.resetModules();
  });

  it("gives lowercase hex ids of W3C length, all different, across pool refills", () => {
    const generator = new PooledIdGenerator();
    const spanIds = Array.from({ length: 2_000 }, () => generator.generateSpanId());
    const traceIds = Array.from({ length: 500 }, () => generator.generateTraceId());
    for (const id of spanIds) expect(id).toMatch(/^[0-9a-f]{16}$/);
    for (const id of traceIds) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set([...spanIds, ...traceIds]).size).toBe(2_500);
  });

  it("never hands out an all-zero (invalid) id", async () => {
    vi.doMock("node:crypto", async (importOriginal) => ({
      ...(await importOriginal<typeof crypto>()),
      randomFillSync: <T extends Buffer>(buffer: T): T => buffer.fill(0),
    }));
    const { PooledIdGenerator: ZeroSourced } = await import("./pooled-id-generator.js");
    const generator = new ZeroSourced();
    expect(generator.generateSpanId()).toBe(`${"0".repeat(15)}1`);
    expect(generator.generateTraceId()).toBe(`${"0".repeat(31)}1`);
  });
});
