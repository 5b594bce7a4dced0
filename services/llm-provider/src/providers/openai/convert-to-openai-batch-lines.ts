import type { ChatBatchSubmission, EmbeddingBatchSubmission } from "../../ports/provider-batch-client.js";
import { convertToOpenAIChatRequest, type OpenAIRequestContext } from "./convert-to-openai-chat-request.js";
import { convertToOpenAIEmbeddingRequest } from "./convert-to-openai-embedding-request.js";

export const OPENAI_EMBEDDINGS_URL = "/v1/embeddings";
export const OPENAI_CHAT_URL = "/v1/chat/completions";

/** An embeddings batch → the JSONL input file: one request per text, bodies as a direct call's. */
export function convertToOpenAIEmbeddingBatchLines(
  submission: Omit<EmbeddingBatchSubmission, "signal">,
): string {
  return submission.items
    .map(({ customId, input }) => {
      const body = convertToOpenAIEmbeddingRequest({
        upstreamModel: submission.upstreamModel,
        inputs: [input],
        dimensions: submission.dimensions,
      });
      return JSON.stringify({ custom_id: customId, method: "POST", url: OPENAI_EMBEDDINGS_URL, body });
    })
    .join("\n");
}

/** A chat batch → the JSONL input file, bodies as a direct call's. */
export function convertToOpenAIChatBatchLines(
  submission: Omit<ChatBatchSubmission, "signal">,
  context: OpenAIRequestContext,
): string {
  return submission.items
    .map(({ customId, call }) => {
      const { body } = convertToOpenAIChatRequest(call, context);
      return JSON.stringify({ custom_id: customId, method: "POST", url: OPENAI_CHAT_URL, body });
    })
    .join("\n");
}
