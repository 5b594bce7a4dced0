import { LlmProviderError } from "@llm-provider/contracts";
import { FailureClass, UpstreamError, failureTraits } from "../domain/failure.js";
import type { ChatDelta, ChatStreamPart } from "../providers/port.js";

export interface StreamLimits {
  /** The first piece must arrive within this long after the attempt starts. */
  firstChunkMs: number;
  /** No more than this long between two pieces. */
  idleMs: number;
}

export type StreamEnd = Extract<ChatStreamPart, { type: "end" }>["end"];

export interface ConsumedStream {
  end: StreamEnd;
  /** The answer's text, put together (for events that carry content). */
  content: string;
  /** Pieces forwarded by this attempt. */
  forwarded: number;
  /** ms from the attempt's start to its first piece, when there was one. */
  firstChunkMs: number | null;
}

/**
 * Reads one attempt's stream and forwards every delta as it comes. Before the first delta went
 * out, a failure is an `UpstreamError` (the request may still retry or fall back); after it, the
 * caller has part of an answer, so any failure — cut, stall, malformed piece — ends the request
 * with a final `LlmProviderError`: a truncated answer is never reported as complete.
 */
export async function consumeChatStream(
  parts: AsyncIterable<ChatStreamPart>,
  forward: (delta: ChatDelta) => void,
  limits: StreamLimits,
  abort: () => void,
): Promise<ConsumedStream> {
  const started = performance.now();
  const iterator = parts[Symbol.asyncIterator]();
  let forwarded = 0;
  let content = "";
  let firstChunkMs: number | null = null;
  try {
    for (;;) {
      const limitMs = forwarded === 0 ? limits.firstChunkMs : limits.idleMs;
      const next = await nextWithin(iterator, limitMs, abort, forwarded === 0 ? "first piece" : "next piece");
      if (next.done) {
        throw new UpstreamError(
          FailureClass.connection,
          "stream ended before the provider finished the answer",
        );
      }
      const part = next.value;
      if (part.type === "end") return { end: part.end, content, forwarded, firstChunkMs };
      if (part.delta.content) content += part.delta.content;
      firstChunkMs ??= performance.now() - started;
      forward(part.delta);
      forwarded++;
    }
  } catch (error) {
    if (forwarded === 0 || !(error instanceof UpstreamError)) throw error;
    throw new LlmProviderError(
      failureTraits(error.failure).errorCode,
      `stream interrupted after ${forwarded} chunk(s): ${error.message}`,
      { retryable: false, details: { failure: error.failure, chunks: forwarded } },
    );
  } finally {
    // Stop the upstream read whatever happened (a no-op after a clean end).
    void iterator.return?.().catch(() => undefined);
  }
}

async function nextWithin<T>(
  iterator: AsyncIterator<T>,
  limitMs: number,
  abort: () => void,
  what: string,
): Promise<IteratorResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      abort();
      reject(new UpstreamError(FailureClass.timeout, `no ${what} from the provider within ${limitMs} ms`));
    }, limitMs);
  });
  try {
    return await Promise.race([iterator.next(), expired]);
  } finally {
    clearTimeout(timer);
  }
}
