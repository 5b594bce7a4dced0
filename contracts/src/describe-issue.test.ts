import { describe, expect, it } from "vitest";
import { CompleteChatSchema } from "./chat.js";
import { GenerateEmbeddingSchema } from "./embedding.js";
import { LlmProviderError } from "./errors.js";
import { REFUSED_OPENAI_CHAT_FIELDS } from "./openai-fields.js";
import { parseRequest } from "./validation.js";

const message = { role: "user", content: "hi" };
const chat = (fields: Record<string, unknown>) => ({ model: "m", messages: [message], ...fields });

function refusal(schema: typeof CompleteChatSchema | typeof GenerateEmbeddingSchema, body: unknown) {
  try {
    parseRequest(schema, body, REFUSED_OPENAI_CHAT_FIELDS);
  } catch (error) {
    expect(error).toBeInstanceOf(LlmProviderError);
    const typed = error as LlmProviderError;
    expect(typed.code).toBe("invalid_request");
    return { field: typed.field, message: typed.message };
  }
  throw new Error("the request was accepted");
}

describe("invalid_request messages name the rule that was broken", () => {
  it.each([
    [
      "too many embedding inputs",
      GenerateEmbeddingSchema,
      { model: "m", input: Array(10_000).fill("a") },
      "input",
      "input: must have at most 2048 items, got 10000",
    ],
    [
      "a non-string embedding item",
      GenerateEmbeddingSchema,
      { model: "m", input: ["a", 1] },
      "input[1]",
      "input[1]: must be a string, got a number",
    ],
    [
      "a missing input",
      GenerateEmbeddingSchema,
      { model: "m" },
      "input",
      "input: is required (a string or an array)",
    ],
    [
      "too many stop strings",
      CompleteChatSchema,
      chat({ stop: ["a", "b", "c", "d", "e"] }),
      "stop",
      "stop: must have at most 4 items, got 5",
    ],
    [
      "a number out of range",
      CompleteChatSchema,
      chat({ temperature: 5 }),
      "temperature",
      "temperature: must be at most 2, got 5",
    ],
    [
      "an exclusive bound",
      CompleteChatSchema,
      chat({ max_tokens: 0 }),
      "max_tokens",
      "max_tokens: must be greater than 0, got 0",
    ],
    [
      "an unknown role",
      CompleteChatSchema,
      chat({ messages: [{ role: "robot", content: "x" }] }),
      "messages[0].role",
      `messages[0].role: must be one of "system", "developer", "user", "assistant", "function", "tool", got 'robot'`,
    ],
    [
      "a missing field",
      CompleteChatSchema,
      { messages: [message] },
      "model",
      "model: is required (a string)",
    ],
    [
      "a string too long",
      CompleteChatSchema,
      chat({ model: "m".repeat(300) }),
      "model",
      "model: must be at most 256 characters long, got 300",
    ],
    [
      "a union matched by no alternative",
      CompleteChatSchema,
      chat({ tool_choice: "sometimes" }),
      "tool_choice",
      `tool_choice: must be one of "none", "auto", "required" or an object, got 'sometimes'`,
    ],
    [
      "alternatives told apart by a literal",
      CompleteChatSchema,
      chat({ response_format: { type: "xml" } }),
      "response_format.type",
      `response_format.type: must be one of "text", "json_object", "json_schema", got 'xml'`,
    ],
    [
      "a content part the contract does not take",
      CompleteChatSchema,
      chat({
        messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "ftp://x/y.png" } }] }],
      }),
      "messages[0].content[0].image_url.url",
      "messages[0].content[0].image_url.url: must be an http(s) URL or a base64 data URL of image/png, image/jpeg, image/gif, image/webp",
    ],
    [
      "a part type the role does not take",
      CompleteChatSchema,
      chat({
        messages: [{ role: "system", content: [{ type: "file", file: { file_url: "https://x/a.pdf" } }] }],
      }),
      "messages[0].content[0].type",
      "messages[0].content[0].type: a system message takes only text parts, got file",
    ],
    [
      "an unknown part type",
      CompleteChatSchema,
      chat({ messages: [{ role: "user", content: [{ type: "audio", audio: {} }] }] }),
      "messages[0].content[0].type",
      `messages[0].content[0].type: must be one of "text", "image_url", "file", got 'audio'`,
    ],
    [
      "an OpenAI field refused with its reason",
      CompleteChatSchema,
      chat({ stream: true }),
      "stream",
      "stream: not supported: streaming has its own subject: send the same body to llm-provider.cmd.stream_chat",
    ],
    [
      "a field nobody knows",
      CompleteChatSchema,
      chat({ colour: "blue" }),
      "colour",
      "colour: unknown field: 'colour'",
    ],
  ] as const)("%s", (_case, schema, body, field, expected) => {
    expect(refusal(schema, body)).toEqual({ field, message: expected });
  });

  it("keeps a message the schema wrote itself", () => {
    const tool = { type: "function", function: { name: "has spaces" } };
    expect(refusal(CompleteChatSchema, chat({ tools: [tool] })).message).toBe(
      "tools[0].function.name: must be 1-64 letters, digits, '_' or '-'",
    );
  });

  it("never quotes a long value whole", () => {
    const { message: text } = refusal(CompleteChatSchema, chat({ stream_rescue: "x".repeat(10_000) }));
    expect(text.length).toBeLessThan(200);
  });
});
