import type { ToolCall } from "@llm-provider/contracts";
import { z } from "zod";
import { FailureClass, UpstreamError } from "../../domain/failure.js";
import type { ChatOutcome } from "../../ports/provider-client.js";
import { parseUpstream } from "../parse-upstream.js";
import { mapOllamaDoneReason } from "./map-ollama-done-reason.js";

/** Lenient: an Ollama chat message, as an answer and as a stream line carry it. */
export const ollamaMessageSchema = z.object({
  content: z.string().nullish(),
  /** A thinking model's reasoning, apart from the content (`think` on). */
  thinking: z.string().nullish(),
  tool_calls: z
    .array(
      z.object({
        id: z.string().nullish(),
        function: z.object({
          name: z.string(),
          arguments: z.union([z.record(z.string(), z.unknown()), z.string()]),
        }),
      }),
    )
    .nullish(),
});

/** Lenient: only the fields we use. Counts are left out by Ollama when they are zero. */
const ollamaChatResponseSchema = z.object({
  model: z.string().nullish(),
  message: ollamaMessageSchema,
  done_reason: z.string().nullish(),
  prompt_eval_count: z.number().int().nonnegative().nullish(),
  eval_count: z.number().int().nonnegative().nullish(),
});

/**
 * Ollama `/api/chat` answer → neutral outcome. Ollama gives tool calls no id (newer versions may):
 * `createCallId` makes one. `legacyFunctionCall` as in the other wires: the request used `functions`.
 */
export function convertOllamaChatResponse(
  body: unknown,
  legacyFunctionCall: boolean,
  createCallId: () => string,
): ChatOutcome {
  const error = (body as { error?: unknown } | null)?.error;
  if (typeof error === "string") {
    // Ollama reports a failure after the status line was sent as an `error` field.
    throw new UpstreamError(FailureClass.serverError, `provider failed: ${error}`);
  }
  const {
    model,
    message,
    done_reason: doneReason,
    prompt_eval_count: promptTokens,
    eval_count: outputTokens,
  } = parseUpstream(ollamaChatResponseSchema, body, "returned a chat response");
  const toolCalls: ToolCall[] = (message.tool_calls ?? []).map((call) => ({
    id: call.id ?? createCallId(),
    type: "function",
    function: {
      name: call.function.name,
      arguments:
        typeof call.function.arguments === "string"
          ? call.function.arguments
          : JSON.stringify(call.function.arguments),
    },
  }));
  const hasUsage = promptTokens != null || outputTokens != null;
  const content = message.content ?? "";
  const outcome: ChatOutcome = {
    upstreamId: null,
    responseModel: model ?? null,
    // With tool calls Ollama sends "" as content; neutral has no content then, as OpenAI.
    content: content === "" && toolCalls.length > 0 ? null : content,
    finishReason: mapOllamaDoneReason(doneReason, toolCalls.length > 0),
    rawFinishReason: doneReason ?? null,
    usage: hasUsage ? { promptTokens: promptTokens ?? 0, completionTokens: outputTokens ?? 0 } : undefined,
    warnings: hasUsage ? [] : ["provider did not report token usage; cost is 0"],
  };
  if (message.thinking) outcome.reasoning = message.thinking;
  if (toolCalls.length > 0 && legacyFunctionCall) {
    outcome.functionCall = toolCalls[0]!.function;
    if (toolCalls.length > 1) {
      outcome.warnings.push(
        `provider made ${toolCalls.length} function calls; the legacy function_call holds the first`,
      );
    }
  } else if (toolCalls.length > 0) {
    outcome.toolCalls = toolCalls;
  }
  return outcome;
}
