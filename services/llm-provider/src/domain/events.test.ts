import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ChatMessageSchema, SUBJECTS } from "@llm-provider/contracts";
import type { ChatCompletion, CompleteChat } from "@llm-provider/contracts";
import { buildChatCompleted, deriveEventId } from "./events.js";

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

describe("buildChatCompleted with include_content", () => {
  it("copies the prompt without inline images and files, saying what was there", () => {
    const png = `data:image/png;base64,${"A".repeat(4_000)}`;
    const request: CompleteChat = {
      model: "m",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "Compare these" },
            { type: "image_url", image_url: { url: png } },
            { type: "image_url", image_url: { url: "https://example.com/cat.png" } },
            { type: "file", file: { file_data: "data:application/pdf;base64,JVBERi0x", filename: "a.pdf" } },
          ],
        },
      ],
    };
    const completion = {
      id: "c",
      model: "m",
      provider_id: "p",
      finish_reason: "stop",
      content: "Same.",
    } as ChatCompletion;
    const context = { requestId: "r", caller: "ingest", time: new Date(0), includeContent: true };
    const event = buildChatCompleted(completion, request, context);
    expect(event.data.messages?.[0]?.content).toEqual([
      { type: "text", text: "Compare these" },
      { type: "text", text: "[image/png, 3,000 bytes: not copied into events]" },
      { type: "image_url", image_url: { url: "https://example.com/cat.png" } },
      { type: "text", text: "[application/pdf, 6 bytes: not copied into events]" },
    ]);
    expect(ChatMessageSchema.array().safeParse(event.data.messages).success).toBe(true);
    expect(JSON.stringify(event).length).toBeLessThan(1_000);
  });
});
