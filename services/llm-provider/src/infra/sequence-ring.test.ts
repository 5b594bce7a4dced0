import { describe, expect, it } from "vitest";
import { SequenceRing } from "./sequence-ring.js";

describe("SequenceRing", () => {
  it("numbers values in order and gives each back once, in any order", () => {
    const ring = new SequenceRing<string>(4);
    expect(["a", "b", "c"].map((value) => ring.push(value))).toEqual([0, 1, 2]);
    expect(ring.take(1)).toBe("b");
    expect(ring.take(1)).toBeUndefined();
    expect(ring.oldest()).toEqual({ sequence: 0, value: "a" });
    expect(ring.take(0)).toBe("a");
    expect(ring.oldest()).toEqual({ sequence: 2, value: "c" });
    expect(ring.take(2)).toBe("c");
    expect(ring.size).toBe(0);
    expect(ring.oldest()).toBeUndefined();
    expect(ring.push("d")).toBe(3);
    expect([-1, 2, 4, Number.NaN].map((sequence) => ring.take(sequence))).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it("grows past its capacity without losing or reordering anything, across wrap-around", () => {
    const ring = new SequenceRing<number>(4);
    for (let value = 0; value < 3; value++) ring.push(value);
    ring.take(0);
    ring.take(1); // the window now starts mid-array
    for (let value = 3; value < 40; value++) expect(ring.push(value)).toBe(value);
    expect(ring.size).toBe(38);
    expect(ring.take(20)).toBe(20);
    const order: number[] = [];
    for (let oldest = ring.oldest(); oldest; oldest = ring.oldest()) order.push(ring.take(oldest.sequence)!);
    expect(order).toEqual([
      ...Array.from({ length: 18 }, (_, i) => i + 2),
      ...Array.from({ length: 19 }, (_, i) => i + 21),
    ]);
  });

  it("drains what waits, oldest first, and lets go of it", () => {
    const ring = new SequenceRing<string>(2);
    ["a", "b", "c"].forEach((value) => ring.push(value));
    ring.take(1);
    expect(ring.drain()).toEqual(["a", "c"]);
    expect(ring.size).toBe(0);
    expect(ring.take(0)).toBeUndefined();
    expect(ring.push("d")).toBe(3);
    expect(ring.oldest()).toEqual({ sequence: 3, value: "d" });
  });
});
