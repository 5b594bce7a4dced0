import { describe, expect, it } from "vitest";
import { INBOX_PREFIXES, isInboxSubject } from "./reply-subject.js";

describe("isInboxSubject", () => {
  const prefixes = [...INBOX_PREFIXES, "_INBOX_ingest."];

  it("takes the inboxes of request/reply, of cross-account imports and configured prefixes", () => {
    for (const reply of ["_INBOX.abc.1", "_INBOX.abc", "_R_.xYz.123", "_INBOX_ingest.n.2"])
      expect(isInboxSubject(reply, prefixes), reply).toBe(true);
  });

  it("refuses every other subject, wildcards and malformed subjects", () => {
    for (const reply of [
      undefined,
      "",
      "_INBOX.",
      "$JS.API.STREAM.PURGE.LLM_PROVIDER_EVENTS",
      "$KV.llm_provider_breakers.x",
      "llm-provider.chat_completed.v1",
      "_INBOX_other.x",
      "_INBOXES.x",
      "_INBOX.*",
      "_INBOX.>",
      "_INBOX.a.>",
      "_INBOX..a",
      "_INBOX.a.",
      "_INBOX.*.a",
      "_INBOX.a.>.b",
      "_INBOX.a b",
      "_INBOX.a\tb",
    ])
      expect(isInboxSubject(reply, prefixes), String(reply)).toBe(false);
  });
});
