// What the conformance suite needs from each wire: a ProviderClient pointed at the wire's fake
// server, a way to script the fake's next answer or failure in neutral terms, and what the fake
// received, summarised in neutral terms from the wire's real field names.
import { ProviderConfigSchema } from "../../services/llm-provider/src/config/schema.js";
import type { ProviderSpec } from "../../services/llm-provider/src/domain/catalog.js";
import { createProviderClient } from "../../services/llm-provider/src/providers/create-provider-client.js";
import {
  createHttpDispatcher,
  createUndiciFetch,
} from "../../services/llm-provider/src/infra/http/undici-fetch.js";
import type { ProviderClient } from "../../services/llm-provider/src/ports/provider-client.js";

export const CONFORMANCE_API_KEY = "sk-conformance-0123456789abcdef";

/** The fake's next chat answer. `text` undefined: the fake echoes the last message ("echo: …"). */
export interface ScriptedAnswer {
  text?: string | null;
  toolCalls?: { name: string; arguments: Record<string, unknown> }[];
  /** Answer the calls in the seed's legacy single `function_call` form (where the wire has one). */
  legacy?: boolean;
  contentFilter?: boolean;
  usage?: { promptTokens: number; completionTokens: number };
}

export type ScriptedFailure =
  | { kind: "status"; status: number; retryAfterSeconds?: number }
  | { kind: "hang" }
  | { kind: "reset" }
  | { kind: "malformed" };

/**
 * How the fake's next chat stream goes wrong, in neutral terms: broken before or after the first
 * delta; or whole but without the wire's terminator (`[DONE]`, `message_stop`), the connection
 * then closed or held open; or an error the provider reports inside the stream after the first delta.
 */
export type StreamFault =
  | { fault: "cut" | "stall" | "malformed"; afterFirstDelta: boolean }
  | { fault: "no_terminator"; holdOpen: boolean }
  | { fault: "error_event" };

/** One piece of a sent conversation: a text, a function call, or a function result. */
export interface SentItem {
  role: "system" | "user" | "assistant" | "tool";
  text?: string;
  call?: { name: string; arguments: unknown };
  /** For a result: the name of the function call it answers, as the wire links them (id or name). */
  answers?: string;
}

export interface SentRequest {
  model: string;
  items: SentItem[];
  maxTokens: number | undefined;
  toolNames: string[];
  /** The wire's credential header carried the configured key (or, keyless, nothing). */
  credentialsAsConfigured: boolean;
  /** The raw body, for wire-specific checks. */
  body: unknown;
}

export interface WireSession {
  client: ProviderClient;
  answerWith(answer: ScriptedAnswer): void;
  failWith(failure: ScriptedFailure): void;
  /** The next chat stream breaks as `fault` says. */
  failStreamWith(fault: StreamFault): void;
  /** Chat requests the fake received, oldest first. */
  sentChats(): SentRequest[];
  /** Embedding batches the fake received, oldest first. */
  sentEmbeddings(): { model: string; inputs: string[] }[];
  reset(): void;
  close(): Promise<void>;
}

export type Scenario =
  "content filter" | "embeddings" | "stream: no terminator, connection closes" | "stream: error event";

export interface WireUnderTest {
  name: string;
  upstreamModel: string;
  /** The embedding model (or deployment) the fake serves. */
  embeddingModel: string;
  /** Finish reasons exactly as this wire reports a normal end, a cut, tool calls and a refusal. */
  rawFinish: { stop: string; length: string; toolCalls: string; contentFilter: string | undefined };
  /** The wire sends the model's limit as max_tokens when the request sets none (Anthropic must). */
  alwaysSendsMaxTokens: boolean;
  /** Body fields a streamed chat request must carry on this wire. */
  streamRequestFields: Record<string, unknown>;
  /** The failure class of the wire's in-stream error (`error_event`). */
  streamErrorFailure?: string;
  /** Scenarios this wire cannot run, each with the reason. */
  skips: Partial<Record<Scenario, string>>;
  start(): Promise<WireSession>;
}

/** A provider entry as the configuration would give it, with retries off (the suite counts requests). */
export function providerSpec(
  fields: Pick<ProviderSpec, "id" | "provider_type" | "endpoint"> & Partial<ProviderSpec>,
): ProviderSpec {
  return {
    is_active: true,
    headers: {},
    config: ProviderConfigSchema.parse({ timeout_ms: 5_000, max_retries: 0 }),
    ...fields,
  };
}

/** The production client for `provider`, on the production HTTP transport. */
export function createWireClient(provider: ProviderSpec, apiKey: string | undefined) {
  const dispatcher = createHttpDispatcher();
  const fetch = createUndiciFetch(dispatcher, { idleMs: provider.config.idle_timeout_ms });
  const client = createProviderClient(provider, { apiKey, fetch });
  if (!client) throw new Error(`no wire for ${provider.provider_type}`);
  return { client, closeTransport: () => dispatcher.destroy() };
}

/** Function-call arguments as sent: JSON text (OpenAI) or an object (Anthropic, Ollama). */
export function parseArguments(value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}
