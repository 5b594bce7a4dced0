import type { ChatMessage, CompleteChat } from "@llm-provider/contracts";
import type OpenAI from "openai";

type OpenAIMessage = OpenAI.Chat.Completions.ChatCompletionMessageParam;
type OpenAIRequest = OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming;

function convertMessage(message: ChatMessage): OpenAIMessage {
  const content = message.content ?? null;
  switch (message.role) {
    case "system":
      return { role: "system", content: content ?? "", ...(message.name ? { name: message.name } : {}) };
    case "user":
      return { role: "user", content: content ?? "", ...(message.name ? { name: message.name } : {}) };
    case "assistant":
      return {
        role: "assistant",
        content,
        ...(message.name ? { name: message.name } : {}),
        ...(message.function_call ? { function_call: message.function_call } : {}),
        ...(message.tool_calls ? { tool_calls: message.tool_calls } : {}),
      };
    case "function":
      return { role: "function", name: message.name ?? "", content };
    case "tool":
      return { role: "tool", tool_call_id: message.tool_call_id ?? "", content: content ?? "" };
  }
}

/**
 * Neutral CompleteChat → OpenAI Chat Completions body. Every neutral field has an OpenAI
 * counterpart, so this wire produces no warnings.
 */
export function convertToOpenAIChatRequest(upstreamModel: string, request: CompleteChat): OpenAIRequest {
  const body: OpenAIRequest = {
    model: upstreamModel,
    messages: request.messages.map(convertMessage),
  };
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.top_p !== undefined) body.top_p = request.top_p;
  if (request.max_tokens !== undefined) body.max_tokens = request.max_tokens;
  if (request.stop !== undefined) body.stop = request.stop;
  if (request.presence_penalty !== undefined) body.presence_penalty = request.presence_penalty;
  if (request.frequency_penalty !== undefined) body.frequency_penalty = request.frequency_penalty;
  if (request.seed !== undefined) body.seed = request.seed;
  if (request.response_format !== undefined) body.response_format = request.response_format;
  if (request.functions !== undefined) body.functions = request.functions;
  if (request.function_call !== undefined) body.function_call = request.function_call;
  if (request.tools !== undefined) body.tools = request.tools;
  if (request.tool_choice !== undefined) body.tool_choice = request.tool_choice;
  if (request.user !== undefined) body.user = request.user;
  return body;
}
