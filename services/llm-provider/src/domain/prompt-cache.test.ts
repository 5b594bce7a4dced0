import type { CompleteChat } from "@llm-provider/contracts";
import { describe, expect, it } from "vitest";
import {
  countCacheBreakpoints,
  withAutomaticCacheBreakpoints,
  withCacheBreakpointWarning,
} from "./prompt-cache.js";
import type { ModelEntry } from "./catalog.js";

const tool = (name: string) => ({ type: "function" as const, function: { name } });
const EPHEMERAL = { type: "ephemeral" } as const;

function conversation(extra: Partial<CompleteChat> = {}): CompleteChat {
  return {
    model: "claude",
    prompt_cache: "auto",
    tools: [tool("search"), tool("fetch")],
    messages: [
      { role: "system", content: "You are a careful analyst." },
      { role: "user", content: "Read the report." },
      { role: "assistant", content: "Done." },
      { role: "user", content: "Summarise it." },
    ],
    ...extra,
  };
}

describe("withAutomaticCacheBreakpoints", () => {
  it("marks the last tool, the system prompt and the last two user turns", () => {
    const marked = withAutomaticCacheBreakpoints(conversation());
    expect(marked.tools!.map((t) => t.cache_control)).toEqual([undefined, EPHEMERAL]);
    expect(marked.messages.map((m) => m.cache_control)).toEqual([EPHEMERAL, EPHEMERAL, undefined, EPHEMERAL]);
    expect(countCacheBreakpoints(marked)).toBe(4);
  });

  it("never exceeds four breakpoints with the request's own, and does not change the request it got", () => {
    const request = conversation({
      messages: [
        { role: "system", content: [{ type: "text", text: "Rules", cache_control: EPHEMERAL }] },
        { role: "user", content: "One", cache_control: EPHEMERAL },
        { role: "user", content: "Two" },
        { role: "user", content: "Three" },
      ],
    });
    const marked = withAutomaticCacheBreakpoints(request);
    expect(countCacheBreakpoints(marked)).toBe(4);
    // tools end, then the last user turn; the system prompt already had one
    expect(marked.messages.map((m) => m.cache_control)).toEqual([undefined, EPHEMERAL, undefined, EPHEMERAL]);
    expect(countCacheBreakpoints(request)).toBe(2);
  });

  it("leaves an explicit-mode request alone", () => {
    const request = conversation({ prompt_cache: "explicit" });
    expect(withAutomaticCacheBreakpoints(request)).toBe(request);
  });
});

describe("withCacheBreakpointWarning", () => {
  const model = (promptCaching: boolean) =>
    ({ model_name: "m", features: { prompt_caching: promptCaching } }) as unknown as ModelEntry;

  it("warns when breakpoints were asked for and the model takes none", () => {
    const warned = withCacheBreakpointWarning([], conversation(), model(false));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toContain("cache_control not sent: model 'm'");
    expect(withCacheBreakpointWarning([], conversation(), model(true))).toEqual([]);
    expect(withCacheBreakpointWarning([], conversation({ prompt_cache: "explicit" }), model(false))).toEqual(
      [],
    );
  });
});
