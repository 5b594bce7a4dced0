import { z } from "zod";
import { FailureClass, UpstreamError } from "../../domain/failure.js";
import type { ChatDelta, ChatStreamPart, ChatUsage } from "../../ports/provider-client.js";
import { parseUpstream } from "../parse-upstream.js";
import { convertOpenAIUsage, openAIUsageSchema } from "./convert-openai-usage.js";
import { classifyOpenAIError } from "./classify-openai-error.js";
import { mapOpenAIFinishReason } from "./map-openai-finish-reason.js";

/** Lenient: only the fields we use of a `chat.completion.chunk`. */
const openAIChunkSchema = z.object({
  id: z.string().nullish(),
  model: z.string().nullish(),
  choices: z
    .array(
      z.object({
        delta: z
          .object({
            content: z.string().nullish(),
            reasoning_content: z.string().nullish(),
            reasoning: z.string().nullish(),
            refusal: z.string().nullish(),
            tool_calls: z
              .array(
                z.object({
                  index: z.number().int().nonnegative(),
                  id: z.string().nullish(),
                  type: z.string().nullish(),
                  function: z
                    .object({ name: z.string().nullish(), arguments: z.string().nullish() })
                    .nullish(),
                }),
              )
              .nullish(),
            function_call: z
              .object({ name: z.string().nullish(), arguments: z.string().nullish() })
              .nullish(),
          })
          .nullish(),
        finish_reason: z.string().nullish(),
      }),
    )
    .nullish(),
  usage: openAIUsageSchema.nullish(),
});
type OpenAIChunk = z.infer<typeof openAIChunkSchema>;

/** How long to wait for the usage chunk once the finish reason is in, before ending without it. */
export const USAGE_GRACE_MS = 1_000;

/**
 * OpenAI chat chunks (SSE, as the SDK yields them) → neutral stream parts. The answer is whole once
 * the finish reason and the usage chunk are in: the stream then ends at once, without waiting for
 * `[DONE]`. A stream that closes before any finish reason yields no `end` (it was cut). Errors while
 * reading are classified; one the SDK cannot name is a broken connection.
 */
export async function* convertOpenAIChatStream(
  chunks: AsyncIterable<unknown>,
): AsyncGenerator<ChatStreamPart> {
  const iterator = chunks[Symbol.asyncIterator]();
  let upstreamId: string | null = null;
  let responseModel: string | null = null;
  let rawFinishReason: string | null | undefined;
  let usage: ChatUsage | undefined;
  let providerCostUsd: number | undefined;
  let refused = false;
  try {
    for (;;) {
      const next = rawFinishReason === undefined ? await iterator.next() : await nextOrGiveUp(iterator);
      if (next === undefined || next.done) break;
      const chunk = parseChunk(next.value);
      upstreamId ??= chunk.id ?? null;
      responseModel ??= chunk.model ?? null;
      if (chunk.usage) {
        usage = convertOpenAIUsage(chunk.usage);
        if (chunk.usage.cost != null) providerCostUsd = chunk.usage.cost;
      }
      const choice = chunk.choices?.[0];
      // A refusal is the provider's content filter speaking: its words are the answer, as unstreamed.
      if (choice?.delta?.refusal) refused = true;
      const delta = choice?.delta ? toDelta(choice.delta) : undefined;
      if (delta) yield { type: "delta", delta };
      if (choice?.finish_reason) rawFinishReason = choice.finish_reason;
      if (rawFinishReason !== undefined && usage) break;
    }
  } catch (error) {
    throw (
      classifyOpenAIError(error, Date.now()) ??
      new UpstreamError(FailureClass.connection, "reading the provider's stream failed", { cause: error })
    );
  } finally {
    void iterator.return?.().catch(() => undefined);
  }
  if (rawFinishReason === undefined) return;
  yield {
    type: "end",
    end: {
      upstreamId,
      responseModel,
      finishReason: refused ? "content_filter" : mapOpenAIFinishReason(rawFinishReason),
      rawFinishReason,
      usage,
      ...(providerCostUsd !== undefined ? { providerCostUsd } : {}),
      warnings: usage ? [] : ["provider did not report token usage; cost is 0"],
    },
  };
}

function parseChunk(value: unknown): OpenAIChunk {
  return parseUpstream(openAIChunkSchema, value, "sent a stream chunk");
}

function toDelta(
  delta: NonNullable<NonNullable<OpenAIChunk["choices"]>[number]["delta"]>,
): ChatDelta | undefined {
  const out: ChatDelta = {};
  if (delta.content) out.content = delta.content;
  else if (delta.refusal) out.content = delta.refusal;
  const reasoning = delta.reasoning_content ?? delta.reasoning;
  if (reasoning) out.reasoning = reasoning;
  if (delta.tool_calls && delta.tool_calls.length > 0) {
    out.toolCalls = delta.tool_calls.map((call) => ({
      index: call.index,
      ...(call.id ? { id: call.id } : {}),
      ...(call.type === "function" ? { type: "function" as const } : {}),
      ...(call.function
        ? {
            function: {
              ...(call.function.name ? { name: call.function.name } : {}),
              ...(call.function.arguments ? { arguments: call.function.arguments } : {}),
            },
          }
        : {}),
    }));
  }
  if (delta.function_call) {
    out.functionCall = {
      ...(delta.function_call.name ? { name: delta.function_call.name } : {}),
      ...(delta.function_call.arguments ? { arguments: delta.function_call.arguments } : {}),
    };
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** After the finish reason: the usage chunk or the end, within the grace; `undefined` when neither came. */
async function nextOrGiveUp<T>(iterator: AsyncIterator<T>): Promise<IteratorResult<T> | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<undefined>(
    (resolve) => (timer = setTimeout(() => resolve(undefined), USAGE_GRACE_MS)),
  );
  try {
    return await Promise.race([iterator.next(), grace]);
  } finally {
    clearTimeout(timer);
  }
}
