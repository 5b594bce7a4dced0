import { z } from "zod";
import type { ChatOutcome } from "../../ports/provider-client.js";
import { parseUpstream } from "../parse-upstream.js";
import { convertOpenAIUsage, openAIUsageSchema } from "./convert-openai-usage.js";
import { mapOpenAIFinishReason } from "./map-openai-finish-reason.js";

const functionCallSchema = z.object({ name: z.string(), arguments: z.string() });

/** Lenient: only the fields we use; `nullish` where OpenAI-compatible servers differ. */
const openAIChatResponseSchema = z.object({
  id: z.string().nullish(),
  model: z.string().nullish(),
  choices: z
    .array(
      z.object({
        message: z.object({
          content: z.string().nullish(),
          // DeepSeek, vLLM and LiteLLM say `reasoning_content`; OpenRouter says `reasoning`.
          reasoning_content: z.string().nullish(),
          reasoning: z.string().nullish(),
          refusal: z.string().nullish(),
          function_call: functionCallSchema.nullish(),
          tool_calls: z
            .array(z.object({ id: z.string(), type: z.string().nullish(), function: functionCallSchema }))
            .nullish(),
        }),
        finish_reason: z.string().nullish(),
      }),
    )
    .min(1),
  usage: openAIUsageSchema.nullish(),
});

/** OpenAI Chat Completions response body → neutral outcome; a body of the wrong shape is `malformed_response`. */
export function convertOpenAIChatResponse(body: unknown): ChatOutcome {
  const { id, model, choices, usage } = parseUpstream(
    openAIChatResponseSchema,
    body,
    "returned a chat response",
  );
  const choice = choices[0]!;
  const { message } = choice;
  const rawFinishReason = choice.finish_reason ?? null;
  const warnings: string[] = [];
  let finishReason = mapOpenAIFinishReason(rawFinishReason);
  let content = message.content ?? null;
  if (content === null && message.refusal) {
    // A refusal is the provider's content filter speaking; surface its words.
    content = message.refusal;
    finishReason = "content_filter";
  }
  if (!usage) warnings.push("provider did not report token usage; cost is 0");
  const outcome: ChatOutcome = {
    upstreamId: id ?? null,
    responseModel: model ?? null,
    content,
    finishReason,
    rawFinishReason,
    usage: usage ? convertOpenAIUsage(usage) : undefined,
    warnings,
  };
  const reasoning = message.reasoning_content ?? message.reasoning;
  if (reasoning) outcome.reasoning = reasoning;
  if (usage?.cost != null) outcome.providerCostUsd = usage.cost;
  if (message.function_call) outcome.functionCall = message.function_call;
  if (message.tool_calls && message.tool_calls.length > 0) {
    outcome.toolCalls = message.tool_calls.map((call) => ({
      id: call.id,
      type: "function" as const,
      function: call.function,
    }));
  }
  return outcome;
}
