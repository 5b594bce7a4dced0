// Ollama's native wire under the conformance suite.
import type { RecordedRequest } from "../fakes/fake-http-server.js";
import { startFakeOllamaServer, type OllamaFakeBehavior } from "../fakes/ollama-server.js";
import {
  createWireClient,
  providerSpec,
  type ScriptedFailure,
  type SentItem,
  type SentRequest,
  type StreamFault,
  type WireUnderTest,
} from "./wire-session.js";

type Message = {
  role: SentItem["role"];
  content?: string;
  tool_calls?: { function: { name: string; arguments: unknown } }[];
  tool_name?: string;
};

/** Ollama `messages` → neutral items; Ollama links a tool result to its call by `tool_name`. */
export function ollamaItems(messages: Message[]): SentItem[] {
  const items: SentItem[] = [];
  for (const message of messages) {
    const text = message.content ?? "";
    if (message.role === "tool") {
      items.push({
        role: "tool",
        text,
        ...(message.tool_name !== undefined ? { answers: message.tool_name } : {}),
      });
      continue;
    }
    if (text !== "") items.push({ role: message.role, text });
    for (const call of message.tool_calls ?? []) {
      items.push({
        role: "assistant",
        call: { name: call.function.name, arguments: call.function.arguments },
      });
    }
  }
  return items;
}

function summarise(request: RecordedRequest): SentRequest {
  const body = (request.body ?? {}) as {
    model?: string;
    messages?: Message[];
    options?: { num_predict?: number };
    tools?: { function: { name: string } }[];
  };
  return {
    model: body.model ?? "",
    items: ollamaItems(body.messages ?? []),
    maxTokens: body.options?.num_predict,
    toolNames: (body.tools ?? []).map((tool) => tool.function.name),
    // A local Ollama takes no key: nothing must be sent that looks like one.
    credentialsAsConfigured: request.headers.authorization === undefined,
    body: request.body,
  };
}

function toBehavior(
  failure: ScriptedFailure,
): OllamaFakeBehavior | Exclude<ScriptedFailure, { kind: "status" }> {
  if (failure.kind !== "status") return failure;
  const headers =
    failure.retryAfterSeconds !== undefined
      ? { "retry-after": String(failure.retryAfterSeconds) }
      : undefined;
  return { kind: "error", status: failure.status, ...(headers ? { headers } : {}) };
}

/** The first NDJSON line already carries the first word. */
function toStreamBehavior(fault: StreamFault): OllamaFakeBehavior {
  switch (fault.fault) {
    case "no_terminator":
      // Only the held-open case maps: see the skip below.
      return { kind: "stream_fault", after: 0, fault: "hold_open" };
    case "error_event":
      return { kind: "stream_fault", after: 1, fault: "error_line" };
    default:
      return { kind: "stream_fault", after: fault.afterFirstDelta ? 1 : 0, fault: fault.fault };
  }
}

export const OLLAMA_WIRE: WireUnderTest = {
  name: "ollama",
  upstreamModel: "llama3.2:3b",
  embeddingModel: "nomic-embed-text",
  rawFinish: { stop: "stop", length: "length", toolCalls: "stop", contentFilter: undefined },
  alwaysSendsMaxTokens: false,
  streamRequestFields: { stream: true },
  streamErrorFailure: "server_error",
  skips: {
    "stream: no terminator, connection closes":
      "Ollama's NDJSON has no terminator after its final `done: true` line: closing after it is the happy path (the held-open case is run)",
    "content filter":
      "Ollama runs the model locally with no moderation layer: it has no refusal stop reason or content-filter error to map",
  },
  async start() {
    const fake = await startFakeOllamaServer({ models: ["llama3.2:3b", "nomic-embed-text"] });
    const provider = providerSpec({ id: "ollama", provider_type: "ollama", endpoint: fake.baseUrl });
    // Local Ollama is keyless: no api_key_ref, so no key.
    const { client, closeTransport } = createWireClient(provider, undefined);
    return {
      client,
      answerWith(answer) {
        fake.setReply({
          ...(answer.text != null ? { content: answer.text } : {}),
          ...(answer.toolCalls ? { toolCalls: answer.toolCalls } : {}),
          ...(answer.usage
            ? { promptEvalCount: answer.usage.promptTokens, evalCount: answer.usage.completionTokens }
            : {}),
        });
      },
      failWith: (failure) => fake.enqueue(toBehavior(failure)),
      failStreamWith: (fault) => fake.enqueue(toStreamBehavior(fault)),
      sentChats: () => fake.requests.filter((request) => request.path === "/api/chat").map(summarise),
      sentEmbeddings: () =>
        fake.requests
          .filter((request) => request.path === "/api/embed")
          .map((request) => request.body as { model: string; input: string[] })
          .map(({ model, input }) => ({ model, inputs: input })),
      reset: () => fake.reset(),
      close: async () => {
        await closeTransport();
        await fake.close();
      },
    };
  },
};
