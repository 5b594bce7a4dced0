import { describe, expect, it } from "vitest";
import type { ChatStreamPart } from "../../ports/provider-client.js";
import { convertOpenAIChatStream } from "./convert-openai-chat-stream.js";

async function collect(chunks: unknown[]): Promise<ChatStreamPart[]> {
  const parts: ChatStreamPart[] = [];
  const source: AsyncIterable<unknown> = {
    [Symbol.asyncIterator]: () => {
      const items = chunks[Symbol.iterator]();
      return { next: () => Promise.resolve(items.next()) };
    },
  };
  for await (const part of convertOpenAIChatStream(source)) parts.push(part);
  return parts;
}

const chunk = (delta: object, finish: string | null = null) => ({
  id: "chatcmpl-1",
  model: "m",
  choices: [{ index: 0, delta, finish_reason: finish }],
});

describe("convertOpenAIChatStream", () => {
  it("keeps the usage details a non-streamed answer has: cache reads and writes, OpenRouter's cost", async () => {
    const parts = await collect([
      chunk({ role: "assistant", content: "" }),
      chunk({ content: "Hi" }),
      chunk({}, "stop"),
      {
        id: "chatcmpl-1",
        choices: [],
        usage: {
          prompt_tokens: 100,
          completion_tokens: 2,
          prompt_tokens_details: { cached_tokens: 60, cache_write_tokens: 30 },
          cost: 0.0042,
        },
      },
    ]);
    expect(parts.at(-1)).toEqual({
      type: "end",
      end: {
        upstreamId: "chatcmpl-1",
        responseModel: "m",
        finishReason: "stop",
        rawFinishReason: "stop",
        usage: { promptTokens: 100, completionTokens: 2, cacheReadTokens: 60, cacheWriteTokens: 30 },
        providerCostUsd: 0.0042,
        warnings: [],
      },
    });
  });

  it("streams a refusal as the answer's text and ends with content_filter, as unstreamed", async () => {
    const parts = await collect([
      chunk({ role: "assistant", refusal: "" }),
      chunk({ refusal: "I can't help with that." }),
      chunk({}, "stop"),
      { id: "chatcmpl-1", choices: [], usage: { prompt_tokens: 5, completion_tokens: 6 } },
    ]);
    expect(parts[0]).toEqual({ type: "delta", delta: { content: "I can't help with that." } });
    expect(parts.at(-1)).toMatchObject({ type: "end", end: { finishReason: "content_filter" } });
  });
});
