// What the OpenAI fake's modules share: the behaviors and replies a test scripts, the server's
// state, and the request being answered.
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { BatchApiState } from "./batches.js";

export interface RecordedRequest {
  method: string;
  /** URL path without the query string, e.g. `/v1/chat/completions`. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body, or undefined when there was none or it was not valid JSON. */
  body: unknown;
}

export type FakeBehavior =
  /** An explicit JSON response. */
  | { kind: "reply"; status?: number; headers?: Record<string, string>; body: unknown }
  /** An OpenAI error envelope `{"error":{"message","type","param","code"}}`; unset fields get per-status defaults. */
  | {
      kind: "error";
      status: number;
      type?: string;
      code?: string | null;
      message?: string;
      param?: string | null;
      headers?: Record<string, string>;
    }
  /** Wait, then do `then` (default: the normal answer). */
  | { kind: "delay"; ms: number; then?: FakeBehavior }
  /** Never answer; the socket stays open until the client gives up or the server closes. */
  | { kind: "hang" }
  /** Destroy the socket before sending any response headers. */
  | { kind: "reset" }
  /** 200 with `content-type: application/json` and a body that is not valid JSON. */
  | { kind: "malformed"; body?: string }
  /** The normal answer for the path. */
  | { kind: "default" }
  /**
   * A chat stream that goes wrong after `after` SSE events (the first is the role chunk):
   * `cut` destroys the socket, `stall` goes silent with the socket open, `malformed` sends a data
   * line that is not JSON, `no_done` sends everything but `[DONE]` and closes, `hold_open` sends
   * everything but `[DONE]` and keeps the socket open.
   */
  | { kind: "stream_fault"; after: number; fault: "cut" | "stall" | "malformed" | "no_done" | "hold_open" }
  /**
   * The normal answer, but slow: a stream sends its headers and the role chunk at once and the rest
   * `ms` later (a slow first token); a non-streamed answer sends its headers and half its body
   * at once and the rest `ms` later (a body that stalls, then goes on).
   */
  | { kind: "slow_body"; ms: number }
  /** The normal answer's headers and first part (half a JSON body, or the role chunk), then the socket is cut. */
  | { kind: "cut_body" }
  /**
   * A chat stream that sends its first `after` SSE events (the first is the role chunk), then
   * waits for `gate` before sending the rest: a test decides when the answer goes on.
   */
  | { kind: "gated_stream"; after: number; gate: Promise<unknown> };

export interface FakeChatReply {
  /** Reply text; `undefined` keeps the echo, `null` sends no content (e.g. with tool calls). */
  content?: string | null;
  /** OpenRouter: the reasoning text of a reasoning answer (unset: one made from the prompt). */
  reasoning?: string;
  finish_reason?: string;
  tool_calls?: unknown[];
  function_call?: unknown;
  usage?: { prompt_tokens: number; completion_tokens: number };
}

/**
 * `openai`: OpenAI's API (Azure's too): no reasoning text, `max_tokens` refused by reasoning models.
 * `openrouter`: OpenRouter's: `reasoning` in and out, `usage.cost`, breakpoints and PDF URLs taken.
 */
export type FakeFlavour = "openai" | "openrouter";

export interface FakeOpenAIServerOptions {
  /** Whose API to be (default `openai`). */
  flavour?: FakeFlavour;
  /** When set, requests without `Authorization: Bearer <apiKey>` get OpenAI's 401 error. */
  apiKey?: string;
  /** Record requests in `requests` (default true). Benchmarks can turn it off to keep memory flat. */
  recordRequests?: boolean;
  /** Answer every request without a queued behavior this much later (requests stay in flight). */
  defaultDelayMs?: number;
}

/** One request being answered. */
export interface Exchange {
  method: string;
  path: string;
  body: unknown;
  /** The body as sent (multipart uploads are not JSON). */
  raw: Buffer;
  req: IncomingMessage;
  res: ServerResponse;
  startedAt: number;
}

export interface ServerState {
  queue: FakeBehavior[];
  requests: RecordedRequest[];
  chatReply: FakeChatReply | undefined;
  /** What every request for a model gets, before the queue is looked at (`setModelBehavior`). */
  modelBehaviors: Map<string, FakeBehavior>;
  /** Pending `delay` timers, cleared on close so nothing fires afterwards. */
  timers: Set<NodeJS.Timeout>;
  ids: IdGenerator;
  options: FakeOpenAIServerOptions;
  /** Prompt prefixes seen, for the prompt cache (see chat-usage.ts). */
  promptCache: Set<string>;
  /** Uploaded files and batches (see batches.ts). */
  batchApi: BatchApiState;
}

/** Request-unique ids in OpenAI's shapes (`req_<32 hex>`, `chatcmpl-…`) without per-request crypto. */
export class IdGenerator {
  private readonly prefix = randomBytes(8).toString("hex");
  private counter = 0;

  next(): string {
    this.counter += 1;
    return this.prefix + this.counter.toString(16).padStart(16, "0");
  }
}
