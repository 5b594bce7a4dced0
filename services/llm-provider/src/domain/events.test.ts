import { describe, expect, it } from "vitest";
import { SUBJECTS } from "@llm-provider/contracts";
import { deriveEventId } from "./events.js";
import { murmur3Hex128 } from "./murmur3.js";

describe("deriveEventId", () => {
  it("is evt_ and the MurmurHash3 of the UTF-8 of type, NUL and request id", () => {
    const id = deriveEventId(SUBJECTS.chatCompletedEvent, "req-1");
    expect(id).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(id).toBe(
      `evt_${murmur3Hex128(new TextEncoder().encode(`${SUBJECTS.chatCompletedEvent}\0req-1`))}`,
    );
    expect(deriveEventId(SUBJECTS.chatCompletedEvent, "req-1")).toBe(id);
  });

  it("differs by type and by request id", () => {
    const ids = new Set([
      deriveEventId(SUBJECTS.chatCompletedEvent, "req-1"),
      deriveEventId(SUBJECTS.chatFailedEvent, "req-1"),
      deriveEventId(SUBJECTS.chatCompletedEvent, "req-2"),
      deriveEventId(SUBJECTS.chatCompletedEvent, "req-1\0"),
    ]);
    expect(ids.size).toBe(4);
  });

  it("hashes request ids of any length and script the same way", () => {
    const encoder = new TextEncoder();
    for (const requestId of ["x".repeat(2_000), "запрос-✓-𝄞", "é".repeat(300)]) {
      expect(deriveEventId(SUBJECTS.chatCompletedEvent, requestId)).toBe(
        `evt_${murmur3Hex128(encoder.encode(`${SUBJECTS.chatCompletedEvent}\0${requestId}`))}`,
      );
    }
  });
});
