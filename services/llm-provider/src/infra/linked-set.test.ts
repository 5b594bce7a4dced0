import { describe, expect, it } from "vitest";
import { LinkedSet } from "./linked-set.js";

describe("LinkedSet", () => {
  it("keeps insertion order and size through deletions anywhere", () => {
    const set = new LinkedSet<string>();
    const links = ["a", "b", "c", "d"].map((value) => set.add(value));
    expect([...set]).toEqual(["a", "b", "c", "d"]);
    expect(set.delete(links[1]!)).toBe(true); // middle
    expect(set.delete(links[0]!)).toBe(true); // first
    expect(set.delete(links[3]!)).toBe(true); // last
    expect([...set]).toEqual(["c"]);
    expect(set.size).toBe(1);
    set.add("e");
    expect([...set]).toEqual(["c", "e"]);
  });

  it("deletes once, and a deleted link holds nothing of its neighbours", () => {
    const set = new LinkedSet<number>();
    const first = set.add(1);
    const second = set.add(2);
    set.add(3);
    expect(set.delete(second)).toBe(true);
    expect(set.delete(second)).toBe(false);
    expect(second.previous).toBeUndefined();
    expect(second.next).toBeUndefined();
    expect(set.delete(first)).toBe(true);
    expect(set.delete(first)).toBe(false);
    expect(set.size).toBe(1);
    expect([...set]).toEqual([3]);
  });

  it("iterates while the loop deletes the current member; a copy allows any deletion; clears", () => {
    const set = new LinkedSet<number>();
    const links = [1, 2, 3, 4].map((value) => set.add(value));
    const seen: number[] = [];
    for (const value of set) {
      seen.push(value);
      set.delete(links[value - 1]!);
    }
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(set.size).toBe(0);
    links.forEach((link) => expect(set.delete(link)).toBe(false));
    const again = [5, 6, 7].map((value) => set.add(value));
    for (const value of [...set]) if (value === 5) again.forEach((link) => set.delete(link));
    expect(set.size).toBe(0);
    [8, 9].forEach((value) => set.add(value));
    set.clear();
    expect(set.size).toBe(0);
    expect([...set]).toEqual([]);
  });
});
