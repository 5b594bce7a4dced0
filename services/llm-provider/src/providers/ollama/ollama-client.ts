import { randomUUID } from "node:crypto";
import type { ProviderSpec } from "../../domain/catalog.js";
import { FailureClass, UpstreamError } from "../../domain/failure.js";
import type {
  ChatCall,
  ChatOutcome,
  ChatStreamPart,
  EmbeddingCall,
  EmbeddingOutcome,
  ProviderClient,
} from "../port.js";
import { redactApiKey } from "../redact-api-key.js";
import { classifyOllamaError } from "./classify-ollama-error.js";
import { convertOllamaChatResponse } from "./convert-ollama-chat-response.js";
import { convertOllamaChatStream, splitLines } from "./convert-ollama-chat-stream.js";
import { convertOllamaEmbedResponse } from "./convert-ollama-embed-response.js";
import { convertToOllamaChatRequest } from "./convert-to-ollama-chat-request.js";
import { convertToOllamaEmbedRequest } from "./convert-to-ollama-embed-request.js";

export interface OllamaClientOptions {
  provider: ProviderSpec;
  /** Sent as a bearer token when set (Ollama behind an authenticating proxy, or ollama.com). */
  apiKey: string | undefined;
  fetch: typeof fetch;
}

/** Ollama's native API over the injected `fetch`: `/api/chat` (whole or as NDJSON), and `/api/embed`. */
export function createOllamaClient({ provider, apiKey, fetch }: OllamaClientOptions): ProviderClient {
  const baseUrl = provider.endpoint.replace(/\/+$/, "");
  const headers: Record<string, string> = {
    ...provider.headers,
    "content-type": "application/json",
    accept: "application/json",
    ...(apiKey !== undefined ? { authorization: `Bearer ${apiKey}` } : {}),
  };

  async function postJson(path: string, body: unknown, signal: AbortSignal): Promise<unknown> {
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${baseUrl}${path}`, {
        method: "POST",
        headers,
        body: JSON.stringify(body),
        signal,
      });
      text = await response.text();
    } catch (error) {
      // An aborted attempt is classified by routing (timeout or shutdown), not here.
      if (signal.aborted) throw error;
      throw new UpstreamError(FailureClass.connection, "connection to provider failed", { cause: error });
    }
    if (!response.ok) {
      const header = (name: string) => response.headers.get(name);
      throw redactApiKey(
        classifyOllamaError({ status: response.status, body: text, header }, Date.now()),
        apiKey,
      );
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new UpstreamError(FailureClass.malformedResponse, "provider returned a body that is not JSON", {
        cause: error,
      });
    }
  }

  return {
    providerId: provider.id,
    async completeChat(call: ChatCall): Promise<ChatOutcome> {
      const { body, warnings } = convertToOllamaChatRequest(call.upstreamModel, call.request);
      const answer = await postJson("/api/chat", body, call.signal);
      const legacyFunctionCall = call.request.functions !== undefined && call.request.tools === undefined;
      const outcome = convertOllamaChatResponse(answer, legacyFunctionCall, () => `call_${randomUUID()}`);
      return { ...outcome, warnings: [...warnings, ...outcome.warnings] };
    },
    async *streamChat(call: ChatCall): AsyncGenerator<ChatStreamPart> {
      const { body, warnings } = convertToOllamaChatRequest(call.upstreamModel, call.request);
      let response: Response;
      try {
        response = await fetch(`${baseUrl}/api/chat`, {
          method: "POST",
          headers: { ...headers, accept: "application/x-ndjson" },
          body: JSON.stringify({ ...body, stream: true }),
          signal: call.signal,
        });
      } catch (error) {
        if (call.signal.aborted) throw error;
        throw new UpstreamError(FailureClass.connection, "connection to provider failed", { cause: error });
      }
      if (!response.ok || response.body === null) {
        const text = await response.text().catch(() => "");
        const header = (name: string) => response.headers.get(name);
        throw redactApiKey(
          classifyOllamaError({ status: response.status, body: text, header }, Date.now()),
          apiKey,
        );
      }
      const legacyFunctionCall = call.request.functions !== undefined && call.request.tools === undefined;
      const lines = readLines(response.body, call.signal);
      for await (const part of convertOllamaChatStream(
        lines,
        legacyFunctionCall,
        () => `call_${randomUUID()}`,
      )) {
        yield part.type === "end"
          ? { type: "end", end: { ...part.end, warnings: [...warnings, ...part.end.warnings] } }
          : part;
      }
    },
    async generateEmbeddings(call: EmbeddingCall): Promise<EmbeddingOutcome> {
      const { body, warnings } = convertToOllamaEmbedRequest(call);
      const outcome = convertOllamaEmbedResponse(
        await postJson("/api/embed", body, call.signal),
        call.inputs.length,
      );
      return { ...outcome, warnings: [...warnings, ...outcome.warnings] };
    },
  };
}

/** The body's lines; a read that fails (not by our abort) is a broken connection. */
async function* readLines(body: ReadableStream<Uint8Array>, signal: AbortSignal): AsyncGenerator<string> {
  try {
    yield* splitLines(body);
  } catch (error) {
    if (signal.aborted) throw error;
    throw new UpstreamError(FailureClass.connection, "reading the provider's stream failed", {
      cause: error,
    });
  }
}
