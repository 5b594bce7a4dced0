// The stream scenarios of the conformance suite, against every wire that streams (all of them):
// the same neutral cases through each wire's `streamChat` and its fake server — the answer put
// together, tool calls, a cut, a stall, a malformed piece, a provider error inside the stream, and
// a stream that is whole but never sends its terminator. Each test checks what was sent as well.
import { type CompleteChat, type ToolCallDelta } from "@llm-provider/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { UpstreamError } from "../../services/llm-provider/src/domain/failure.js";
import type { ChatDelta, ChatStreamPart } from "../../services/llm-provider/src/ports/provider-client.js";
import { consumeChatStream } from "../../services/llm-provider/src/routing/consume-chat-stream.js";
import { ANTHROPIC_WIRE } from "./anthropic-wire-session.js";
import { OLLAMA_WIRE } from "./ollama-wire-session.js";
import { AZURE_OPENAI_WIRE, OPENAI_WIRE, OPENROUTER_WIRE } from "./openai-wire-sessions.js";
import type { Scenario, WireSession, WireUnderTest } from "./wire-session.js";

const WIRES: WireUnderTest[] = [OPENAI_WIRE, OPENROUTER_WIRE, AZURE_OPENAI_WIRE, ANTHROPIC_WIRE, OLLAMA_WIRE];
const MODEL_MAX_TOKENS = 1_024;
/** Stall limits small enough for a test, large enough for a loaded CI machine. */
const LIMITS = { firstChunkMs: 1_000, idleMs: 300 };
/** A whole answer without its terminator must end well before any idle limit would. */
const PROMPT_END_MS = 800;

const weatherTool = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "Current weather in a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};
const hello: Omit<CompleteChat, "model"> = { messages: [{ role: "user", content: "Hello there friend" }] };

interface Collected {
  deltas: ChatDelta[];
  ends: Extract<ChatStreamPart, { type: "end" }>["end"][];
  text: string;
  error: unknown;
}

/** Reads the whole stream; an error ends the read and is kept. */
async function collect(parts: AsyncIterable<ChatStreamPart>): Promise<Collected> {
  const collected: Collected = { deltas: [], ends: [], text: "", error: undefined };
  try {
    for await (const part of parts) {
      if (part.type === "end") collected.ends.push(part.end);
      else {
        collected.deltas.push(part.delta);
        collected.text += part.delta.content ?? "";
      }
    }
  } catch (error) {
    collected.error = error;
  }
  return collected;
}

/** Tool call deltas put together by index, as a caller would. */
function assembleToolCalls(deltas: ChatDelta[]) {
  const calls = new Map<number, { id: string; name: string; arguments: string }>();
  for (const piece of deltas.flatMap((delta): ToolCallDelta[] => delta.toolCalls ?? [])) {
    const call = calls.get(piece.index) ?? { id: "", name: "", arguments: "" };
    call.id += piece.id ?? "";
    call.name += piece.function?.name ?? "";
    call.arguments += piece.function?.arguments ?? "";
    calls.set(piece.index, call);
  }
  return [...calls.values()];
}

describe.each(WIRES)("$name wire: streaming", (wire) => {
  let session: WireSession;
  beforeAll(async () => {
    session = await wire.start();
  });
  afterAll(async () => {
    await session?.close();
  });
  beforeEach(() => session.reset());

  const scenario = (name: Scenario, title: string, test: () => Promise<void>) => {
    const reason = wire.skips[name];
    if (reason !== undefined) it.skip(`${title} — skipped: ${reason}`, test);
    else it(title, test);
  };

  function stream(request: Omit<CompleteChat, "model">, signal = new AbortController().signal) {
    return session.client.streamChat!({
      upstreamModel: wire.upstreamModel,
      modelMaxTokens: MODEL_MAX_TOKENS,
      request: { model: "conformance-model", ...request },
      signal,
    });
  }

  /** Exactly one streamed request went out, carrying the wire's stream fields. */
  function expectOneStreamedRequest() {
    const sent = session.sentChats();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.body).toMatchObject({ model: wire.upstreamModel, ...wire.streamRequestFields });
    return sent[0]!;
  }

  it("has streamChat", () => {
    expect(typeof session.client.streamChat).toBe("function");
  });

  it("happy path: text in several deltas, one end with finish reason and usage", async () => {
    session.answerWith({ usage: { promptTokens: 42, completionTokens: 7 } });
    const { deltas, ends, text, error } = await collect(stream(hello));
    expect(error).toBeUndefined();
    expect(text).toBe("echo: Hello there friend");
    expect(deltas.length).toBeGreaterThanOrEqual(2);
    expect(ends).toHaveLength(1);
    expect(ends[0]).toMatchObject({
      finishReason: "stop",
      rawFinishReason: wire.rawFinish.stop,
      usage: { promptTokens: 42, completionTokens: 7 },
      warnings: [],
    });
    const sent = expectOneStreamedRequest();
    expect(sent.items).toEqual([{ role: "user", text: "Hello there friend" }]);
    expect(sent.credentialsAsConfigured).toBe(true);
  });

  it("length stop", async () => {
    const { text, ends } = await collect(stream({ ...hello, max_tokens: 2 }));
    expect(text).toBe("echo: Hello");
    expect(ends[0]).toMatchObject({ finishReason: "length", rawFinishReason: wire.rawFinish.length });
    expect(expectOneStreamedRequest().maxTokens).toBe(2);
  });

  it("tool-call stream: deltas with index, id and name, arguments that add up to the JSON", async () => {
    session.answerWith({ text: null, toolCalls: [{ name: "get_weather", arguments: { city: "Oslo" } }] });
    const { deltas, ends, text, error } = await collect(
      stream({ messages: [{ role: "user", content: "Weather in Oslo?" }], tools: [weatherTool] }),
    );
    expect(error).toBeUndefined();
    expect(text).toBe("");
    const calls = assembleToolCalls(deltas);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.name).toBe("get_weather");
    expect(calls[0]!.id).not.toBe("");
    expect(JSON.parse(calls[0]!.arguments)).toEqual({ city: "Oslo" });
    expect(ends).toHaveLength(1);
    expect(ends[0]).toMatchObject({
      finishReason: "function_call",
      rawFinishReason: wire.rawFinish.toolCalls,
    });
    expect(expectOneStreamedRequest().toolNames).toEqual(["get_weather"]);
  });

  it("cut after the first delta: the read throws a connection failure, no end", async () => {
    session.failStreamWith({ fault: "cut", afterFirstDelta: true });
    const { deltas, ends, error } = await collect(stream(hello));
    expect(deltas.length).toBeGreaterThanOrEqual(1);
    expect(ends).toEqual([]);
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ failure: "connection" });
    expectOneStreamedRequest();
  });

  it("cut before the first delta: a connection failure the caller may still fall back from", async () => {
    session.failStreamWith({ fault: "cut", afterFirstDelta: false });
    const { deltas, error } = await collect(stream(hello));
    expect(deltas).toEqual([]);
    expect(error).toMatchObject({ failure: "connection" });
    expectOneStreamedRequest();
  });

  it("stall after the first delta: consumeChatStream ends it with a classified timeout that says so, and aborts the read", async () => {
    session.failStreamWith({ fault: "stall", afterFirstDelta: true });
    const abort = new AbortController();
    const forwarded: ChatDelta[] = [];
    const started = performance.now();
    const error = await consumeChatStream(
      stream(hello, abort.signal),
      (delta) => forwarded.push(delta),
      LIMITS,
      () => abort.abort(),
    ).catch((caught: unknown) => caught);
    expect(forwarded.length).toBeGreaterThanOrEqual(1);
    // Whether the request may still be rescued is the handler's decision (stream protocol).
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ failure: "timeout" });
    expect((error as UpstreamError).message).toMatch(/^stream interrupted after \d+ chunk\(s\)/);
    expect(abort.signal.aborted).toBe(true);
    expect(performance.now() - started).toBeLessThan(LIMITS.firstChunkMs + LIMITS.idleMs + 1_000);
    expectOneStreamedRequest();
  });

  it("stall before the first delta: an UpstreamError timeout (fallback still possible)", async () => {
    session.failStreamWith({ fault: "stall", afterFirstDelta: false });
    const abort = new AbortController();
    const error = await consumeChatStream(
      stream(hello, abort.signal),
      () => undefined,
      LIMITS,
      () => abort.abort(),
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ failure: "timeout" });
    expectOneStreamedRequest();
  });

  it("malformed chunk after the first delta: malformed_response, no end", async () => {
    session.failStreamWith({ fault: "malformed", afterFirstDelta: true });
    const { deltas, ends, error } = await collect(stream(hello));
    expect(deltas.length).toBeGreaterThanOrEqual(1);
    expect(ends).toEqual([]);
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ failure: "malformed_response" });
    expectOneStreamedRequest();
  });

  scenario("stream: error event", "provider error inside the stream after the first delta", async () => {
    session.failStreamWith({ fault: "error_event" });
    const { deltas, ends, error } = await collect(stream(hello));
    expect(deltas.length).toBeGreaterThanOrEqual(1);
    expect(ends).toEqual([]);
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ failure: wire.streamErrorFailure });
    expectOneStreamedRequest();
  });

  scenario(
    "stream: no terminator, connection closes",
    "whole answer without the terminator, connection closed: finishes",
    async () => {
      session.failStreamWith({ fault: "no_terminator", holdOpen: false });
      const { text, ends, error } = await collect(stream(hello));
      expect(error).toBeUndefined();
      expect(text).toBe("echo: Hello there friend");
      expect(ends).toHaveLength(1);
      expect(ends[0]).toMatchObject({ finishReason: "stop", rawFinishReason: wire.rawFinish.stop });
      expect(ends[0]!.usage?.completionTokens).toBeGreaterThan(0);
      expectOneStreamedRequest();
    },
  );

  it("whole answer without the terminator, connection held open: finishes promptly", async () => {
    session.failStreamWith({ fault: "no_terminator", holdOpen: true });
    const started = performance.now();
    const { text, ends, error } = await collect(stream(hello));
    expect(performance.now() - started).toBeLessThan(PROMPT_END_MS);
    expect(error).toBeUndefined();
    expect(text).toBe("echo: Hello there friend");
    expect(ends).toHaveLength(1);
    expect(ends[0]).toMatchObject({ finishReason: "stop", rawFinishReason: wire.rawFinish.stop });
    expect(ends[0]!.usage?.promptTokens).toBeGreaterThan(0);
    expectOneStreamedRequest();
  });

  it("HTTP 429 before the stream: the same classified failure as a whole answer", async () => {
    session.failWith({ kind: "status", status: 429, retryAfterSeconds: 3 });
    const { deltas, error } = await collect(stream(hello));
    expect(deltas).toEqual([]);
    expect(error).toMatchObject({ failure: "rate_limited", status: 429, retryAfterMs: 3_000 });
    expectOneStreamedRequest();
  });
});
