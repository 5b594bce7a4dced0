// Reads a typed-client stream to its end, keeping the chunks and the error it ended with.
import type { LlmProviderError, StreamChunk } from "@llm-provider/contracts";

export async function collectStream(stream: AsyncIterable<StreamChunk>) {
  const chunks: StreamChunk[] = [];
  let error: unknown;
  try {
    for await (const chunk of stream) chunks.push(chunk);
  } catch (caught) {
    error = caught;
  }
  return {
    chunks,
    text: chunks.map((chunk) => chunk.delta.content ?? "").join(""),
    error: error as LlmProviderError | undefined,
  };
}
