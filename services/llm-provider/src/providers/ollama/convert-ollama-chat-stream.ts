import { z } from "zod";
import { FailureClass, UpstreamError } from "../../domain/failure.js";
import type { ChatDelta, ChatStreamPart } from "../../ports/provider-client.js";
import { malformedResponse, parseUpstream } from "../parse-upstream.js";
import { ollamaMessageSchema } from "./convert-ollama-chat-response.js";
import { mapOllamaDoneReason } from "./map-ollama-done-reason.js";

/** Lenient: only the fields we use of one NDJSON line of `/api/chat` with `stream: true`. */
const ollamaStreamLineSchema = z.object({
  model: z.string().nullish(),
  message: ollamaMessageSchema.nullish(),
  done: z.boolean().nullish(),
  done_reason: z.string().nullish(),
  prompt_eval_count: z.number().int().nonnegative().nullish(),
  eval_count: z.number().int().nonnegative().nullish(),
});
export type OllamaStreamLine = z.infer<typeof ollamaStreamLineSchema>;

/**
 * One NDJSON line → its parsed form. An `{"error": …}` line is Ollama failing after the 200 went
 * out; a line that is not JSON, or not of the expected shape, is a malformed answer.
 */
export function parseOllamaStreamLine(line: string): OllamaStreamLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw malformedResponse("provider sent a stream line that is not JSON", error);
  }
  const error = (value as { error?: unknown } | null)?.error;
  if (typeof error === "string") {
    throw new UpstreamError(FailureClass.serverError, `provider failed mid-stream: ${error}`);
  }
  return parseUpstream(ollamaStreamLineSchema, value, "sent a stream line");
}

/**
 * Ollama `/api/chat` NDJSON lines → neutral parts. Each line's text is a content delta, its
 * `thinking` a reasoning delta (a thinking model streams them before the content); tool calls
 * come whole (Ollama does not split their arguments), one delta each with a made-up id where
 * Ollama gives none. The `done: true` line carries the reason and the counts: the stream ends
 * there. Lines that stop before it yield no `end` (the stream was cut).
 */
export async function* convertOllamaChatStream(
  lines: AsyncIterable<string>,
  legacyFunctionCall: boolean,
  createCallId: () => string,
): AsyncGenerator<ChatStreamPart> {
  let calls = 0;
  for await (const text of lines) {
    if (text.trim() === "") continue;
    const line = parseOllamaStreamLine(text);
    const delta: ChatDelta = {};
    if (line.message?.thinking) delta.reasoning = line.message.thinking;
    if (line.message?.content) delta.content = line.message.content;
    for (const call of line.message?.tool_calls ?? []) {
      const index = calls++;
      const args =
        typeof call.function.arguments === "string"
          ? call.function.arguments
          : JSON.stringify(call.function.arguments);
      if (legacyFunctionCall) {
        if (index === 0) delta.functionCall = { name: call.function.name, arguments: args };
        continue;
      }
      (delta.toolCalls ??= []).push({
        index,
        id: call.id ?? createCallId(),
        type: "function",
        function: { name: call.function.name, arguments: args },
      });
    }
    if (Object.keys(delta).length > 0) yield { type: "delta", delta };
    if (line.done !== true) continue;

    const promptTokens = line.prompt_eval_count;
    const outputTokens = line.eval_count;
    const hasUsage = promptTokens != null || outputTokens != null;
    const warnings = hasUsage ? [] : ["provider did not report token usage; cost is 0"];
    if (legacyFunctionCall && calls > 1) {
      warnings.push(`provider made ${calls} function calls; the legacy function_call holds the first`);
    }
    yield {
      type: "end",
      end: {
        upstreamId: null,
        responseModel: line.model ?? null,
        finishReason: mapOllamaDoneReason(line.done_reason, calls > 0),
        rawFinishReason: line.done_reason ?? null,
        usage: hasUsage
          ? { promptTokens: promptTokens ?? 0, completionTokens: outputTokens ?? 0 }
          : undefined,
        warnings,
      },
    };
    return;
  }
}

/** A byte stream → its lines (without the newline); a last line without a newline is kept. */
export async function* splitLines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of chunks) {
    buffered += decoder.decode(chunk, { stream: true });
    let newline = buffered.indexOf("\n");
    while (newline !== -1) {
      yield buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf("\n");
    }
  }
  buffered += decoder.decode();
  if (buffered !== "") yield buffered;
}
