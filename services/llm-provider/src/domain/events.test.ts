import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { SUBJECTS } from "@llm-provider/contracts";
import { deriveEventId } from "./events.js";

describe("deriveEventId", () => {
  it("is evt_ and the first 128 bits of the SHA-256 of type, caller and request id joined by NUL", () => {
    const id = deriveEventId(SUBJECTS.chatCompletedEvent, "memory", "req-1");
    expect(id).toMatch(/^evt_[0-9a-f]{32}$/);
    const digest = createHash("sha256").update(`${SUBJECTS.chatCompletedEvent}\0memory\0req-1`).digest("hex");
    expect(id).toBe(`evt_${digest.slice(0, 32)}`);
    expect(deriveEventId(SUBJECTS.chatCompletedEvent, "memory", "req-1")).toBe(id);
  });

  it("differs by type, by caller and by request id, however the parts are split", () => {
    const ids = new Set([
      deriveEventId(SUBJECTS.chatCompletedEvent, "memory", "req-1"),
      deriveEventId(SUBJECTS.chatFailedEvent, "memory", "req-1"),
      deriveEventId(SUBJECTS.chatCompletedEvent, "ingest", "req-1"),
      deriveEventId(SUBJECTS.chatCompletedEvent, "memory", "req-2"),
      deriveEventId(SUBJECTS.chatCompletedEvent, "memoryr", "eq-1"),
      deriveEventId(SUBJECTS.chatCompletedEvent, "memory", "req-1", ""),
    ]);
    expect(ids.size).toBe(6);
  });
});
