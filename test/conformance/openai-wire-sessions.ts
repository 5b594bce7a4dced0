// The OpenAI wire and its presets (OpenRouter, Azure OpenAI) under the conformance suite.
import { startFakeAzureOpenAIServer } from "../fakes/azure-openai-server.js";
import type { RecordedRequest as ReceivedRequest } from "../fakes/fake-http-server.js";
import {
  startFakeOpenAIServer,
  type FakeBehavior,
  type FakeChatReply,
  type FakeOpenAIServer,
} from "../fakes/openai-server.js";
import {
  CONFORMANCE_API_KEY,
  createWireClient,
  parseArguments,
  providerSpec,
  type ScriptedAnswer,
  type ScriptedFailure,
  type SentItem,
  type SentRequest,
  type StreamFault,
  type WireSession,
  type WireUnderTest,
} from "./wire-session.js";

/** What every fake records; the OpenAI fake does not split off the query. */
type RecordedRequest = Pick<ReceivedRequest, "method" | "path" | "headers" | "body">;

type Message = {
  role: string;
  content?: unknown;
  name?: string;
  tool_calls?: { id: string; function: { name: string; arguments: string } }[];
  function_call?: { name: string; arguments: string };
  tool_call_id?: string;
};

/** OpenAI chat `messages` → neutral items; a tool result is linked to its call by `tool_call_id`. */
export function openAIItems(messages: Message[]): SentItem[] {
  const callNames = new Map<string, string>();
  const items: SentItem[] = [];
  for (const message of messages) {
    const text = typeof message.content === "string" ? message.content : "";
    if (message.role === "tool" || message.role === "function") {
      const answers = message.role === "tool" ? callNames.get(message.tool_call_id ?? "") : message.name;
      items.push({ role: "tool", text, ...(answers !== undefined ? { answers } : {}) });
      continue;
    }
    if (text !== "") items.push({ role: message.role as SentItem["role"], text });
    for (const call of message.tool_calls ?? []) {
      callNames.set(call.id, call.function.name);
      items.push({
        role: "assistant",
        call: { name: call.function.name, arguments: parseArguments(call.function.arguments) },
      });
    }
    if (message.function_call) {
      const { name, arguments: args } = message.function_call;
      items.push({ role: "assistant", call: { name, arguments: parseArguments(args) } });
    }
  }
  return items;
}

function summarise(request: RecordedRequest, credentialsAsConfigured: boolean): SentRequest {
  const body = (request.body ?? {}) as {
    model?: string;
    messages?: Message[];
    max_tokens?: number;
    max_completion_tokens?: number;
    tools?: { function: { name: string } }[];
    functions?: { name: string }[];
  };
  return {
    model: body.model ?? "",
    items: openAIItems(body.messages ?? []),
    maxTokens: body.max_completion_tokens ?? body.max_tokens,
    toolNames: [
      ...(body.tools ?? []).map((tool) => tool.function.name),
      ...(body.functions ?? []).map((f) => f.name),
    ],
    credentialsAsConfigured,
    body: request.body,
  };
}

function toChatReply(answer: ScriptedAnswer): FakeChatReply {
  const reply: FakeChatReply = {};
  if (answer.text !== undefined) reply.content = answer.text;
  if (answer.contentFilter) Object.assign(reply, { content: null, finish_reason: "content_filter" });
  if (answer.usage)
    reply.usage = {
      prompt_tokens: answer.usage.promptTokens,
      completion_tokens: answer.usage.completionTokens,
    };
  const calls = answer.toolCalls ?? [];
  if (answer.legacy && calls[0]) {
    reply.function_call = { name: calls[0].name, arguments: JSON.stringify(calls[0].arguments) };
  } else if (calls.length > 0) {
    reply.tool_calls = calls.map((call, index) => ({
      id: `call_conformance_${index}`,
      type: "function",
      function: { name: call.name, arguments: JSON.stringify(call.arguments) },
    }));
  }
  return reply;
}

function toBehavior(failure: ScriptedFailure): FakeBehavior {
  if (failure.kind !== "status") return failure;
  const headers =
    failure.retryAfterSeconds !== undefined
      ? { "retry-after": String(failure.retryAfterSeconds) }
      : undefined;
  return { kind: "error", status: failure.status, ...(headers ? { headers } : {}) };
}

/** The role chunk is the first event; the first content delta the second. */
function toStreamBehavior(fault: StreamFault): FakeBehavior {
  switch (fault.fault) {
    case "no_terminator":
      return { kind: "stream_fault", after: 0, fault: fault.holdOpen ? "hold_open" : "no_done" };
    case "error_event":
      throw new Error("the OpenAI fake has no in-stream error event (the scenario is skipped)");
    default:
      return { kind: "stream_fault", after: fault.afterFirstDelta ? 2 : 1, fault: fault.fault };
  }
}

/** Session parts shared by every OpenAI-wire fake: scripting goes to the OpenAI fake itself. */
function openAISession(
  fake: FakeOpenAIServer,
  requests: () => RecordedRequest[],
  isAuthenticated: (request: RecordedRequest) => boolean,
): Omit<WireSession, "client" | "close" | "reset"> {
  const posts = (suffix: string) =>
    requests().filter((request) => request.method === "POST" && request.path.endsWith(suffix));
  return {
    answerWith: (answer) => fake.setChatReply(toChatReply(answer)),
    failWith: (failure) => fake.enqueue(toBehavior(failure)),
    failStreamWith: (fault) => fake.enqueue(toStreamBehavior(fault)),
    sentChats: () =>
      posts("/chat/completions").map((request) => summarise(request, isAuthenticated(request))),
    sentEmbeddings: () =>
      posts("/embeddings").map((request) => {
        const body = request.body as { model: string; input: string | string[] };
        return { model: body.model, inputs: typeof body.input === "string" ? [body.input] : body.input };
      }),
  };
}

const OPENAI_STREAM_FIELDS = { stream: true, stream_options: { include_usage: true } };
const OPENAI_STREAM_SKIPS = {
  "stream: error event":
    "OpenAI documents no in-stream error event (failures come as HTTP statuses before the stream); the fake sends none",
};

const OPENAI_FINISH = {
  stop: "stop",
  length: "length",
  toolCalls: "tool_calls",
  contentFilter: "content_filter",
};
const bearer = (request: RecordedRequest) =>
  request.headers.authorization === `Bearer ${CONFORMANCE_API_KEY}`;

function openAICompatibleWire(name: string, providerType: "openai" | "openrouter"): WireUnderTest {
  return {
    name,
    upstreamModel: providerType === "openrouter" ? "openai/gpt-4o-mini" : "gpt-4o-mini",
    embeddingModel: "text-embedding-3-small",
    rawFinish: OPENAI_FINISH,
    alwaysSendsMaxTokens: false,
    streamRequestFields: OPENAI_STREAM_FIELDS,
    skips: OPENAI_STREAM_SKIPS,
    async start() {
      const fake = await startFakeOpenAIServer({
        apiKey: CONFORMANCE_API_KEY,
        flavour: providerType === "openrouter" ? "openrouter" : "openai",
      });
      const provider = providerSpec({
        id: providerType,
        provider_type: providerType,
        endpoint: fake.baseUrl,
        ...(providerType === "openrouter"
          ? { openrouter: { provider: { order: ["openai"], allow_fallbacks: false } } }
          : {}),
      });
      const { client, closeTransport } = createWireClient(provider, CONFORMANCE_API_KEY);
      return {
        client,
        ...openAISession(fake, () => fake.requests, bearer),
        reset: () => fake.reset(),
        close: async () => {
          await closeTransport();
          await fake.close();
        },
      };
    },
  };
}

export const OPENAI_WIRE = openAICompatibleWire("openai", "openai");
export const OPENROUTER_WIRE = openAICompatibleWire("openrouter (openai preset)", "openrouter");

export const AZURE_OPENAI_WIRE: WireUnderTest = {
  name: "azure_openai (openai preset)",
  upstreamModel: "gpt-4o-mini-deployment",
  embeddingModel: "embedding-deployment",
  rawFinish: OPENAI_FINISH,
  alwaysSendsMaxTokens: false,
  streamRequestFields: OPENAI_STREAM_FIELDS,
  skips: OPENAI_STREAM_SKIPS,
  async start() {
    const fake = await startFakeAzureOpenAIServer({
      apiKey: CONFORMANCE_API_KEY,
      deployments: ["gpt-4o-mini-deployment", "embedding-deployment"],
    });
    const provider = providerSpec({
      id: "azure",
      provider_type: "azure_openai",
      endpoint: fake.endpoint,
      api_version: "2024-10-21",
    });
    const { client, closeTransport } = createWireClient(provider, CONFORMANCE_API_KEY);
    return {
      client,
      ...openAISession(
        fake.openai,
        () => fake.requests,
        (request) => request.headers["api-key"] === CONFORMANCE_API_KEY,
      ),
      reset: () => fake.reset(),
      close: async () => {
        await closeTransport();
        await fake.close();
      },
    };
  },
};
