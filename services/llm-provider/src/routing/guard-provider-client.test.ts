import { CompleteChatSchema } from "@llm-provider/contracts";
import { describe, expect, it, vi } from "vitest";
import { ProviderConfigSchema } from "../config/schema.js";
import type { ProviderSpec } from "../domain/catalog.js";
import { FailureClass, UpstreamError } from "../domain/failure.js";
import type {
  ChatCall,
  ChatOutcome,
  ChatStreamPart,
  ChatUsage,
  ProviderClient,
} from "../ports/provider-client.js";
import type { BreakerBoard } from "../ports/breaker-board.js";
import { guardProviderClient } from "./guard-provider-client.js";
import type { RateLimiter, TokenSettlement } from "../ports/rate-limiter.js";

const provider: ProviderSpec = {
  id: "p",
  provider_type: "openai",
  endpoint: "http://127.0.0.1:9/v1",
  is_active: true,
  headers: {},
  config: ProviderConfigSchema.parse({ tpm: 10_000 }),
};

const breakers: BreakerBoard = {
  admit: () => true,
  report: () => undefined,
  isOpen: () => false,
  retryAfterMs: () => 0,
};

/** Admits everything and records what it is asked to settle. */
function recordingLimiter() {
  const settled: TokenSettlement[] = [];
  const limiter: RateLimiter = {
    acquire: () => true,
    settle: (_budget, _limits, settlement) => {
      settled.push(settlement);
    },
    retryAfterMs: () => 0,
    status: () => Promise.resolve("OK"),
  };
  return { limiter, settled };
}

const outcome = (usage: ChatUsage | undefined): ChatOutcome => ({
  upstreamId: null,
  responseModel: null,
  content: "Hi",
  finishReason: "stop",
  rawFinishReason: "stop",
  usage,
  warnings: [],
});

/** The parts as a provider's stream, each on a later tick. */
async function* streamOf(...parts: ChatStreamPart[]): AsyncGenerator<ChatStreamPart> {
  for (const part of parts) {
    await Promise.resolve();
    yield part;
  }
}

/** "Hello" (6 estimated prompt tokens) with room for 94 more: estimated at 100. */
const call: ChatCall = {
  upstreamModel: "m",
  modelMaxTokens: 1_024,
  request: CompleteChatSchema.parse({
    model: "m",
    max_tokens: 94,
    messages: [{ role: "user", content: "Hello" }],
  }),
  signal: new AbortController().signal,
};

/** Counts in flight per provider, and every value it took. */
function countingGauge() {
  const counts = new Map<string, number>();
  const seen: number[] = [];
  const change = (providerId: string, by: number) => {
    counts.set(providerId, (counts.get(providerId) ?? 0) + by);
    seen.push(counts.get(providerId)!);
  };
  return {
    counts,
    seen,
    callStarted: (providerId: string) => change(providerId, 1),
    callEnded: (providerId: string) => change(providerId, -1),
  };
}

function guard(client: Omit<ProviderClient, "providerId">) {
  const { limiter, settled } = recordingLimiter();
  const inFlight = countingGauge();
  const guarded = guardProviderClient({ providerId: "p", ...client }, provider, {
    breakers,
    limiter,
    inFlight,
  });
  return { guarded, settled, inFlight };
}

describe("guardProviderClient: token settlement", () => {
  it("settles a chat with the prompt and completion tokens the provider counted", async () => {
    const before = Date.now();
    const { guarded, settled } = guard({
      completeChat: () => Promise.resolve(outcome({ promptTokens: 12, completionTokens: 3 })),
    });
    await guarded.completeChat(call);
    expect(settled).toEqual([{ estimatedTokens: 100, actualTokens: 15, startedAt: expect.any(Number) }]);
    expect(settled[0]!.startedAt).toBeGreaterThanOrEqual(before);
  });

  it("settles a stream when its end arrives, with the end's usage", async () => {
    const { guarded, settled } = guard({
      completeChat: () => Promise.reject(new Error("not used")),
      streamChat: () =>
        streamOf(
          { type: "delta", delta: { content: "Hi" } },
          { type: "end", end: outcome({ promptTokens: 12, completionTokens: 1 }) },
        ),
    });
    const parts = [];
    for await (const part of guarded.streamChat!(call)) {
      parts.push(part.type);
      if (part.type === "delta") expect(settled).toEqual([]);
    }
    expect(parts).toEqual(["delta", "end"]);
    expect(settled).toEqual([{ estimatedTokens: 100, actualTokens: 13, startedAt: expect.any(Number) }]);
  });

  it("settles embeddings with the prompt tokens the provider counted", async () => {
    const { guarded, settled } = guard({
      completeChat: () => Promise.reject(new Error("not used")),
      generateEmbeddings: () =>
        Promise.resolve({ vectors: [], responseModel: null, usage: { promptTokens: 7 }, warnings: [] }),
    });
    await guarded.generateEmbeddings!({ upstreamModel: "e", inputs: ["x".repeat(40)], signal: call.signal });
    expect(settled).toEqual([{ estimatedTokens: 10, actualTokens: 7, startedAt: expect.any(Number) }]);
  });

  it("keeps the estimate of a call that failed or was answered without a count", async () => {
    const failing = guard({
      completeChat: () => Promise.reject(new UpstreamError(FailureClass.serverError, "500")),
    });
    await expect(failing.guarded.completeChat(call)).rejects.toBeInstanceOf(UpstreamError);
    const uncounted = guard({ completeChat: () => Promise.resolve(outcome(undefined)) });
    await uncounted.guarded.completeChat(call);
    expect([...failing.settled, ...uncounted.settled]).toEqual([]);
  });
});

describe("guardProviderClient: calls in flight", () => {
  it("counts a call while it runs and after it ends, answered, failed or streamed", async () => {
    let release!: () => void;
    const pending = guard({
      completeChat: () =>
        new Promise(
          (resolve) => (release = () => resolve(outcome({ promptTokens: 1, completionTokens: 1 }))),
        ),
    });
    const answer = pending.guarded.completeChat(call);
    await vi.waitFor(() => expect(release).toBeTypeOf("function"));
    expect(pending.inFlight.counts.get("p")).toBe(1);
    release();
    await answer;
    expect(pending.inFlight.counts.get("p")).toBe(0);

    const failing = guard({
      completeChat: () => Promise.reject(new UpstreamError(FailureClass.serverError, "500")),
    });
    await expect(failing.guarded.completeChat(call)).rejects.toBeInstanceOf(UpstreamError);
    expect(failing.inFlight.seen).toEqual([1, 0]);

    const streamed = guard({
      completeChat: () => Promise.reject(new Error("not used")),
      streamChat: () =>
        streamOf(
          { type: "delta", delta: { content: "Hi" } },
          { type: "end", end: outcome({ promptTokens: 1, completionTokens: 1 }) },
        ),
    });
    for await (const part of streamed.guarded.streamChat!(call)) {
      if (part.type === "delta") expect(streamed.inFlight.counts.get("p")).toBe(1);
    }
    expect(streamed.inFlight.seen).toEqual([1, 0]);
  });
});
