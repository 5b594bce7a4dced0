import { describe, expect, it } from "vitest";
import { createNumberedInbox } from "./numbered-inbox.js";

describe("createNumberedInbox", () => {
  it("reads back the number each reply subject carries, under its wildcard", () => {
    const inbox = createNumberedInbox();
    for (const sequence of [0, 35, 36, 123_456_789, 2 ** 40]) {
      const subject = inbox.replySubject(sequence);
      expect(subject.startsWith(inbox.wildcard.slice(0, -1))).toBe(true);
      expect(subject.slice(inbox.wildcard.length - 1)).toBe(sequence.toString(36));
      expect(inbox.sequenceOf(subject)).toBe(sequence);
    }
  });

  it("gives NaN for subjects it did not make", () => {
    const inbox = createNumberedInbox();
    const other = createNumberedInbox();
    expect(inbox.sequenceOf(other.replySubject(7))).toBeNaN();
    expect(inbox.sequenceOf(inbox.wildcard.slice(0, -2))).toBeNaN();
    expect(inbox.sequenceOf("pipe.a")).toBeNaN();
  });
});
