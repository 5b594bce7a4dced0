import { describe, expect, it } from "vitest";
import { convertToAnthropicRequest } from "./convert-to-anthropic-request.js";

const user = [{ role: "user" as const, content: "hi" }];

describe("convertToAnthropicRequest", () => {
  it("always sends max_tokens: the request's, else the model's", () => {
    expect(convertToAnthropicRequest("claude-x", { model: "m", messages: user }, 4096).body.max_tokens).toBe(
      4096,
    );
    expect(
      convertToAnthropicRequest("claude-x", { model: "m", messages: user, max_tokens: 64 }, 4096).body
        .max_tokens,
    ).toBe(64);
  });

  it("maps stop, user, json_schema and system, and warns about what Anthropic cannot honour", () => {
    const { body, warnings } = convertToAnthropicRequest(
      "claude-x",
      {
        model: "m",
        messages: [{ role: "system", content: "be brief" }, ...user],
        stop: "\n\n",
        user: "user-42",
        temperature: 0.2,
        top_p: 0.9,
        presence_penalty: 1,
        frequency_penalty: 1,
        seed: 7,
        response_format: { type: "json_schema", json_schema: { name: "r", schema: { type: "object" } } },
      },
      1024,
    );
    expect(body).toEqual({
      model: "claude-x",
      max_tokens: 1024,
      system: "be brief",
      messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }],
      stop_sequences: ["\n\n"],
      metadata: { user_id: "user-42" },
      output_config: { format: { type: "json_schema", schema: { type: "object" } } },
    });
    expect(warnings).toEqual([
      "temperature is not supported by Anthropic and was not sent",
      "top_p is not supported by Anthropic and was not sent",
      "presence_penalty is not supported by Anthropic and was not sent",
      "frequency_penalty is not supported by Anthropic and was not sent",
      "seed is not supported by Anthropic and was not sent",
    ]);
    const jsonObject = convertToAnthropicRequest(
      "claude-x",
      { model: "m", messages: user, response_format: { type: "json_object" } },
      1024,
    );
    expect(jsonObject.body).not.toHaveProperty("output_config");
    expect(jsonObject.warnings).toEqual([
      "response_format json_object is not supported by Anthropic; use json_schema",
    ]);
  });

  it("translates tools, legacy functions and both kinds of tool choice", () => {
    const weather = {
      name: "weather",
      description: "Weather",
      parameters: { type: "object", required: ["city"] },
    };
    const withTools = convertToAnthropicRequest(
      "claude-x",
      {
        model: "m",
        messages: user,
        tools: [{ type: "function", function: weather }],
        tool_choice: "required",
      },
      1024,
    ).body;
    expect(withTools.tools).toEqual([
      {
        name: "weather",
        description: "Weather",
        input_schema: { type: "object", properties: {}, required: ["city"] },
      },
    ]);
    expect(withTools.tool_choice).toEqual({ type: "any" });

    const choices = [
      [{ tool_choice: "auto" as const }, { type: "auto" }],
      [{ tool_choice: "none" as const }, { type: "none" }],
      [
        { tool_choice: { type: "function" as const, function: { name: "weather" } } },
        { type: "tool", name: "weather" },
      ],
      [{ function_call: { name: "weather" } }, { type: "tool", name: "weather" }],
      [{}, undefined],
    ] as const;
    for (const [choice, expected] of choices) {
      const body = convertToAnthropicRequest(
        "claude-x",
        { model: "m", messages: user, functions: [{ name: "weather" }], ...choice },
        1024,
      ).body;
      expect(body.tools).toEqual([{ name: "weather", input_schema: { type: "object", properties: {} } }]);
      expect(body.tool_choice).toEqual(expected);
    }
  });
});
