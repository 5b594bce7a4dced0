import { FailureClass, UpstreamError } from "../domain/failure.js";
import type { ChatDelta, ChatStreamPart } from "../ports/provider-client.js";

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
 * Reads one attempt's stream and forwards every delta as it comes. Any failure — no first piece
 * in time, a cut, a stall, a malformed piece — is an `UpstreamError`, also after pieces went out
 * (its message says how many): whether the request may still be rescued on another target then
 * is the caller's decision (it depends on whether its own caller can take a restart). A stream
 * never ends as a success without its `end` part: a truncated answer is never complete.
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
    throw new UpstreamError(
      error.failure,
      `stream interrupted after ${forwarded} chunk(s): ${error.message}`,
      {
        cause: error,
        ...(error.status !== undefined ? { status: error.status } : {}),
        ...(error.providerCode !== undefined ? { providerCode: error.providerCode } : {}),
      },
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
