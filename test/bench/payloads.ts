// What the benchmark sends and what its stand-ins answer: a small, realistic chat request.
import type { ChatCompletion, CompleteChatInput } from "@llm-provider/contracts";

/** Name callers use for the one model of the bench config, and what the service sends upstream. */
export const BENCH_MODEL = "bench-chat";
export const UPSTREAM_MODEL = "gpt-4o-mini";

const MESSAGES = [
  {
    role: "system",
    content: "You are a concise assistant for an online bookshop. Answer in one or two sentences.",
  },
  {
    role: "user",
    content: "Which fantasy novel would you recommend for a ten-year-old who loved The Hobbit?",
  },
] as const;

/** The CompleteChat body sent to the service. */
export const COMPLETE_CHAT_REQUEST: CompleteChatInput = {
  model: BENCH_MODEL,
  messages: [...MESSAGES],
  temperature: 0.2,
  max_tokens: 256,
};

/** What the service sends the upstream for that request; the direct HTTP floor sends the same. */
export const OPENAI_CHAT_REQUEST = {
  model: UPSTREAM_MODEL,
  messages: [...MESSAGES],
  temperature: 0.2,
  max_tokens: 256,
};

/** The echo responder's reply: a ChatCompletion of the same shape and size as the service's. */
export const ECHO_REPLY: ChatCompletion = {
  id: "chatcmpl-3b241101-e2bb-4255-8caf-4136c566a962",
  request_id: "0f4b8a39-7f2f-4a42-9a53-0c1e8d9b6a7e",
  created_at: "2025-01-01T12:00:00.000Z",
  model: BENCH_MODEL,
  provider_id: "bench-upstream",
  upstream_id: "chatcmpl-5f0c4d6e9a1b2c3d0000000000000001",
  content: "echo: Which fantasy novel would you recommend for a ten-year-old who loved The Hobbit?",
  finish_reason: "stop",
  raw_finish_reason: "stop",
  usage: {
    prompt_tokens: 42,
    completion_tokens: 16,
    total_tokens: 58,
    cached_input_tokens: 0,
    cache_write_tokens: 0,
    reasoning_tokens: 0,
    cost: { currency: "USD", input: 0.0000063, output: 0.0000096, total: 0.0000159 },
  },
  latency_ms: 0.912,
  attempts: [{ provider_id: "bench-upstream", model: BENCH_MODEL, outcome: "success", latency_ms: 0.61 }],
  warnings: [],
};
