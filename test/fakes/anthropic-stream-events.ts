// The Messages API's server-sent events for a Message, as the Anthropic fake streams it.
import { asObject, splitWords, textOf, type JsonObject } from "./fake-http-server.js";

/** One SSE event with its `event:` line, framed as the Messages API sends it. */
function sseEvent(type: string, data: JsonObject): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

/**
 * A Message as the stream of events the API sends for it: message_start (input usage), per block
 * content_block_start / deltas (a word per text_delta or thinking_delta, a thinking block's whole
 * signature as one signature_delta, the tool input as input_json_delta pieces; a redacted_thinking
 * block comes whole in its start) / content_block_stop, with a ping after the first block starts,
 * then message_delta (stop reason, the usage so far: cumulative, as the API sends it) and message_stop.
 */
export function streamEvents(message: JsonObject): string[] {
  const usage = (message["usage"] ?? {}) as JsonObject;
  const events = [
    sseEvent("message_start", {
      message: {
        ...message,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...usage, output_tokens: 1 },
      },
    }),
  ];
  const blocks = Array.isArray(message["content"]) ? message["content"] : [];
  blocks.forEach((raw, index) => {
    const block = asObject(raw) ?? {};
    if (block["type"] === "tool_use") {
      events.push(sseEvent("content_block_start", { index, content_block: { ...block, input: {} } }));
      if (index === 0) events.push(sseEvent("ping", {}));
      const input = JSON.stringify(block["input"] ?? {});
      const middle = Math.ceil(input.length / 2);
      for (const piece of ["", input.slice(0, middle), input.slice(middle)]) {
        events.push(
          sseEvent("content_block_delta", {
            index,
            delta: { type: "input_json_delta", partial_json: piece },
          }),
        );
      }
    } else if (block["type"] === "thinking") {
      events.push(
        sseEvent("content_block_start", {
          index,
          content_block: { type: "thinking", thinking: "", signature: "" },
        }),
      );
      if (index === 0) events.push(sseEvent("ping", {}));
      for (const word of splitWords(textOf(block["thinking"]))) {
        events.push(
          sseEvent("content_block_delta", { index, delta: { type: "thinking_delta", thinking: word } }),
        );
      }
      events.push(
        sseEvent("content_block_delta", {
          index,
          delta: { type: "signature_delta", signature: block["signature"] },
        }),
      );
    } else if (block["type"] === "redacted_thinking") {
      events.push(sseEvent("content_block_start", { index, content_block: block }));
      if (index === 0) events.push(sseEvent("ping", {}));
    } else {
      const { text, ...rest } = block;
      events.push(sseEvent("content_block_start", { index, content_block: { ...rest, text: "" } }));
      if (index === 0) events.push(sseEvent("ping", {}));
      for (const word of splitWords(textOf(text))) {
        events.push(sseEvent("content_block_delta", { index, delta: { type: "text_delta", text: word } }));
      }
    }
    events.push(sseEvent("content_block_stop", { index }));
  });
  events.push(
    sseEvent("message_delta", {
      delta: { stop_reason: message["stop_reason"], stop_sequence: message["stop_sequence"] ?? null },
      usage: {
        input_tokens: usage["input_tokens"],
        cache_creation_input_tokens: usage["cache_creation_input_tokens"] ?? 0,
        cache_read_input_tokens: usage["cache_read_input_tokens"] ?? 0,
        output_tokens: usage["output_tokens"],
        output_tokens_details: usage["output_tokens_details"] ?? null,
      },
    }),
    sseEvent("message_stop", {}),
  );
  return events;
}
