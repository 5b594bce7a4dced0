import { describe, expect, it } from "vitest";
import { convertToOllamaChatRequest } from "./convert-to-ollama-chat-request.js";

const user = [{ role: "user" as const, content: "hi" }];

describe("convertToOllamaChatRequest", () => {
  it("asks for one JSON answer and puts the sampling settings into options", () => {
    const { body, warnings } = convertToOllamaChatRequest("llama3.2:3b", {
      model: "m",
      messages: [{ role: "system", content: "be brief" }, ...user],
      temperature: 0.2,
      top_p: 0.9,
      max_tokens: 64,
      stop: "\n\n",
      seed: 7,
      presence_penalty: 0.5,
      frequency_penalty: 0.5,
      response_format: { type: "json_object" },
    });
    expect(body).toEqual({
      model: "llama3.2:3b",
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "hi" },
      ],
      stream: false,
      format: "json",
      options: {
        temperature: 0.2,
        top_p: 0.9,
        num_predict: 64,
        stop: ["\n\n"],
        seed: 7,
        presence_penalty: 0.5,
        frequency_penalty: 0.5,
      },
    });
    expect(warnings).toEqual([]);
  });

  it("sends a JSON schema as format and sends no options when none are set", () => {
    const { body } = convertToOllamaChatRequest("llama3.2", {
      model: "m",
      messages: user,
      response_format: { type: "json_schema", json_schema: { name: "r", schema: { type: "object" } } },
    });
    expect(body).toEqual({ model: "llama3.2", messages: user, stream: false, format: { type: "object" } });
  });

  it("translates tool calls both ways: arguments as objects, results named after their call", () => {
    const { body } = convertToOllamaChatRequest("qwen3", {
      model: "m",
      messages: [
        ...user,
        {
          role: "assistant",
          content: null,
          tool_calls: [
            { id: "call_1", type: "function", function: { name: "weather", arguments: '{"city":"Oslo"}' } },
          ],
        },
        { role: "tool", tool_call_id: "call_1", content: "3 °C" },
        { role: "assistant", content: null, function_call: { name: "time", arguments: "{}" } },
        { role: "function", name: "time", content: "12:00" },
      ],
      tools: [
        {
          type: "function",
          function: { name: "weather", description: "Weather", parameters: { type: "object" } },
        },
      ],
      functions: [{ name: "time" }],
    });
    expect(body.messages.slice(1)).toEqual([
      {
        role: "assistant",
        content: "",
        tool_calls: [{ function: { name: "weather", arguments: { city: "Oslo" } } }],
      },
      { role: "tool", content: "3 °C", tool_name: "weather" },
      { role: "assistant", content: "", tool_calls: [{ function: { name: "time", arguments: {} } }] },
      { role: "tool", content: "12:00", tool_name: "time" },
    ]);
    expect(body.tools).toEqual([
      {
        type: "function",
        function: { name: "weather", description: "Weather", parameters: { type: "object" } },
      },
      { type: "function", function: { name: "time", parameters: { type: "object", properties: {} } } },
    ]);
  });

  it("honours tool_choice none by offering no tools, and warns about what it cannot do", () => {
    const tools = [{ type: "function" as const, function: { name: "weather", strict: true } }];
    expect(
      convertToOllamaChatRequest("m", { model: "m", messages: user, tools, tool_choice: "none" }).body,
    ).not.toHaveProperty("tools");
    const { warnings } = convertToOllamaChatRequest("m", {
      model: "m",
      messages: [{ role: "user", content: "hi", name: "ann" }],
      tools,
      tool_choice: "required",
      user: "user-42",
    });
    expect(warnings).toEqual([
      "messages[0].name is not supported by Ollama",
      "strict schema of function 'weather' is not enforced by Ollama",
      "forcing a tool call (tool_choice / function_call) is not supported by Ollama; the model decides",
      "user is not supported by Ollama and was not sent",
    ]);
  });
});
