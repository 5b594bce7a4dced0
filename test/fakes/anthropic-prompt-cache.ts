// Prompt caching as the Messages API reports it. The prompt is read in the API's order — tools,
// system, messages — block by block; each breakpoint (`cache_control`) names the prefix up to and
// including its block. A prefix seen before is read from the cache, the rest up to the last
// breakpoint is written, what follows is plain input. Tokens: one per 4 characters of the blocks'
// JSON (breakpoints left out, so marking a block does not change its prefix).
import { createHash, type Hash } from "node:crypto";
import { asObject, type JsonObject } from "./fake-http-server.js";

export interface CacheUsage {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export interface FakePromptCache {
  /** The usage of `body`'s prompt; its breakpoints' prefixes are cached from now on. */
  usageOf(body: JsonObject): CacheUsage;
  clear(): void;
}

interface Segment {
  json: string;
  breakpoint: boolean;
}

function withoutBreakpoint(block: unknown): unknown {
  const object = asObject(block);
  if (object === undefined) return block;
  const { cache_control: _dropped, ...rest } = object;
  if (Array.isArray(rest["content"])) rest["content"] = rest["content"].map(withoutBreakpoint);
  return rest;
}

function hasBreakpoint(block: unknown): boolean {
  const object = asObject(block);
  if (object?.["cache_control"] != null) return true;
  // A breakpoint inside a tool result still ends its prefix with that result.
  return Array.isArray(object?.["content"]) && object["content"].some(hasBreakpoint);
}

/** The prompt as the cache sees it: every tool, system block and message block, in order. */
function segmentsOf(body: JsonObject): Segment[] {
  const segment = (block: unknown): Segment => ({
    json: JSON.stringify(withoutBreakpoint(block)),
    breakpoint: hasBreakpoint(block),
  });
  const segments: Segment[] = [];
  for (const tool of Array.isArray(body["tools"]) ? body["tools"] : []) segments.push(segment(tool));
  const system = body["system"];
  if (typeof system === "string") segments.push(segment({ type: "text", text: system }));
  if (Array.isArray(system)) segments.push(...system.map(segment));
  for (const message of Array.isArray(body["messages"]) ? body["messages"] : []) {
    const turn = asObject(message) ?? {};
    const content = turn["content"];
    segments.push({ json: `"role":${String(turn["role"])}`, breakpoint: false });
    if (typeof content === "string") segments.push(segment({ type: "text", text: content }));
    if (Array.isArray(content)) segments.push(...content.map(segment));
  }
  return segments;
}

const tokens = (chars: number) => Math.ceil(chars / 4);

export function createFakePromptCache(): FakePromptCache {
  const cached = new Set<string>();
  return {
    usageOf(body) {
      const hash: Hash = createHash("sha256").update(String(body["model"]));
      let chars = 0;
      let readChars = 0;
      let lastBreakpointChars = 0;
      const written: string[] = [];
      for (const { json, breakpoint } of segmentsOf(body)) {
        hash.update(json);
        chars += json.length;
        if (!breakpoint) continue;
        const key = hash.copy().digest("hex");
        if (cached.has(key)) readChars = chars;
        written.push(key);
        lastBreakpointChars = chars;
      }
      for (const key of written) cached.add(key);
      return {
        input_tokens: Math.max(1, tokens(chars - lastBreakpointChars)),
        cache_creation_input_tokens: tokens(Math.max(0, lastBreakpointChars - readChars)),
        cache_read_input_tokens: tokens(readChars),
      };
    },
    clear: () => cached.clear(),
  };
}
