import { randomUUID } from "node:crypto";
import type { ProviderSpec } from "../../domain/catalog.js";
import { FailureClass, UpstreamError } from "../../domain/failure.js";
import { malformedResponse } from "../parse-upstream.js";
import type {
  ChatCall,
  ChatOutcome,
  ChatStreamPart,
  EmbeddingCall,
  EmbeddingOutcome,
  ProviderClient,
} from "../../ports/provider-client.js";
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

/** Where and how one configured Ollama is called. */
interface OllamaEndpoint {
  baseUrl: string;
  headers: Record<string, string>;
  apiKey: string | undefined;
  fetch: typeof fetch;
}

/** Ollama's native API over the injected `fetch`: `/api/chat` (whole or as NDJSON), and `/api/embed`. */
export function createOllamaClient({ provider, apiKey, fetch }: OllamaClientOptions): ProviderClient {
  const endpoint: OllamaEndpoint = {
    baseUrl: provider.endpoint.replace(/\/+$/, ""),
    headers: {
      ...provider.headers,
      "content-type": "application/json",
      accept: "application/json",
      ...(apiKey !== undefined ? { authorization: `Bearer ${apiKey}` } : {}),
    },
    apiKey,
    fetch,
  };
  const createCallId = () => `call_${randomUUID()}`;

  return {
    providerId: provider.id,
    async completeChat(call: ChatCall): Promise<ChatOutcome> {
      const { body, warnings } = convertToOllamaChatRequest(call.upstreamModel, call.request, call.ollama);
      const answer = await postJson(endpoint, "/api/chat", body, call.signal);
      const outcome = convertOllamaChatResponse(answer, usesLegacyFunctionCall(call), createCallId);
      return { ...outcome, warnings: [...warnings, ...outcome.warnings] };
    },
    async *streamChat(call: ChatCall): AsyncGenerator<ChatStreamPart> {
      const { body, warnings } = convertToOllamaChatRequest(call.upstreamModel, call.request, call.ollama);
      const lines = await postForLines(endpoint, "/api/chat", { ...body, stream: true }, call.signal);
      for await (const part of convertOllamaChatStream(lines, usesLegacyFunctionCall(call), createCallId)) {
        yield part.type === "end"
          ? { type: "end", end: { ...part.end, warnings: [...warnings, ...part.end.warnings] } }
          : part;
      }
    },
    async generateEmbeddings(call: EmbeddingCall): Promise<EmbeddingOutcome> {
      const { body, warnings } = convertToOllamaEmbedRequest(call);
      const answer = await postJson(endpoint, "/api/embed", body, call.signal);
      const outcome = convertOllamaEmbedResponse(answer, call.inputs.length);
      return { ...outcome, warnings: [...warnings, ...outcome.warnings] };
    },
  };
}

/** The request used `functions` (not `tools`): a call comes back as the legacy `function_call`. */
function usesLegacyFunctionCall(call: ChatCall): boolean {
  return call.request.functions !== undefined && call.request.tools === undefined;
}

/** POSTs `body` and reads the whole answer as JSON. */
async function postJson(
  endpoint: OllamaEndpoint,
  path: string,
  body: unknown,
  signal: AbortSignal,
): Promise<unknown> {
  let response: Response;
  let text: string;
  try {
    response = await post(endpoint, path, body, signal, endpoint.headers);
    text = await response.text();
  } catch (error) {
    throw asConnectionFailure(error, signal);
  }
  if (!response.ok) throw statusFailure(endpoint, response, text);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw malformedResponse("provider returned a body that is not JSON", error);
  }
}

/** POSTs `body` and answers the NDJSON body's lines as they come. */
async function postForLines(
  endpoint: OllamaEndpoint,
  path: string,
  body: unknown,
  signal: AbortSignal,
): Promise<AsyncGenerator<string>> {
  let response: Response;
  try {
    response = await post(endpoint, path, body, signal, {
      ...endpoint.headers,
      accept: "application/x-ndjson",
    });
  } catch (error) {
    throw asConnectionFailure(error, signal);
  }
  if (!response.ok || response.body === null) {
    const text = await response.text().catch(() => "");
    throw statusFailure(endpoint, response, text);
  }
  return readLines(response.body, signal);
}

function post(
  endpoint: OllamaEndpoint,
  path: string,
  body: unknown,
  signal: AbortSignal,
  headers: Record<string, string>,
): Promise<Response> {
  return endpoint.fetch(`${endpoint.baseUrl}${path}`, {
    method: "POST",
    headers,
    body: JSON.stringify(body),
    signal,
  });
}

/** An aborted attempt is classified by routing (timeout or shutdown), not here. */
function asConnectionFailure(error: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return error;
  return new UpstreamError(FailureClass.connection, "connection to provider failed", { cause: error });
}

/** An error status, classified from status, body and headers, with the API key never quoted. */
function statusFailure(endpoint: OllamaEndpoint, response: Response, text: string): UpstreamError {
  const header = (name: string) => response.headers.get(name);
  return redactApiKey(
    classifyOllamaError({ status: response.status, body: text, header }, Date.now()),
    endpoint.apiKey,
  );
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
