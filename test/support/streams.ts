// Reads a typed-client stream to its end, keeping the chunks and the error it ended with.
import type { LlmProviderError, StreamChunk, StreamRestart } from "@llm-provider/contracts";

/**
 * `chunks`: every chunk received; `restarts`: the restart messages; `text`: the answer as a caller
 * shows it (what a `restart` dropped is gone, a `continue` keeps it).
 */
export async function collectStream(stream: AsyncIterable<StreamChunk | StreamRestart>) {
  const chunks: StreamChunk[] = [];
  const restarts: StreamRestart[] = [];
  let text = "";
  let error: unknown;
  try {
    for await (const message of stream) {
      if (message.type === "restart") {
        restarts.push(message);
        if (message.mode === "restart") text = "";
        continue;
      }
      chunks.push(message);
      text += message.delta.content ?? "";
    }
  } catch (caught) {
    error = caught;
  }
  return { chunks, restarts, text, error: error as LlmProviderError | undefined };
}
