// The Anthropic Messages wire under the conformance suite.
import { startFakeAnthropicServer, type AnthropicFakeBehavior } from "../fakes/anthropic-server.js";
import type { RecordedRequest } from "../fakes/fake-http-server.js";
import {
  CONFORMANCE_API_KEY,
  createWireClient,
  providerSpec,
  type ScriptedFailure,
  type SentItem,
  type SentRequest,
  type StreamFault,
  type WireUnderTest,
} from "./wire-session.js";

type Block = {
  type: string;
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
  tool_use_id?: string;
  content?: unknown;
};
type Turn = { role: SentItem["role"]; content: string | Block[] };

/** Anthropic `system` + `messages` → neutral items; a tool_result is linked to its tool_use by id. */
export function anthropicItems(system: unknown, messages: Turn[]): SentItem[] {
  const items: SentItem[] = typeof system === "string" ? [{ role: "system", text: system }] : [];
  const callNames = new Map<string, string>();
  for (const turn of messages) {
    if (typeof turn.content === "string") {
      items.push({ role: turn.role, text: turn.content });
      continue;
    }
    for (const block of turn.content) {
      if (block.type === "text") items.push({ role: turn.role, text: block.text ?? "" });
      if (block.type === "tool_use") {
        callNames.set(block.id ?? "", block.name ?? "");
        items.push({ role: "assistant", call: { name: block.name ?? "", arguments: block.input } });
      }
      if (block.type === "tool_result") {
        const answers = callNames.get(block.tool_use_id ?? "");
        const text = typeof block.content === "string" ? block.content : "";
        items.push({ role: "tool", text, ...(answers !== undefined ? { answers } : {}) });
      }
    }
  }
  return items;
}

function summarise(request: RecordedRequest): SentRequest {
  const body = (request.body ?? {}) as {
    model?: string;
    system?: unknown;
    messages?: Turn[];
    max_tokens?: number;
    tools?: { name: string }[];
  };
  const authorization = request.headers.authorization;
  return {
    model: body.model ?? "",
    items: anthropicItems(body.system, body.messages ?? []),
    maxTokens: body.max_tokens,
    toolNames: (body.tools ?? []).map((tool) => tool.name),
    credentialsAsConfigured:
      authorization === `Bearer ${CONFORMANCE_API_KEY}` ||
      request.headers["x-api-key"] === CONFORMANCE_API_KEY,
    body: request.body,
  };
}

function toBehavior(
  failure: ScriptedFailure,
): AnthropicFakeBehavior | Exclude<ScriptedFailure, { kind: "status" }> {
  if (failure.kind !== "status") return failure;
  const headers =
    failure.retryAfterSeconds !== undefined
      ? { "retry-after": String(failure.retryAfterSeconds) }
      : undefined;
  return { kind: "error", status: failure.status, ...(headers ? { headers } : {}) };
}

/** message_start is the first event; the first text delta the fourth (after block start and ping). */
function toStreamBehavior(fault: StreamFault): AnthropicFakeBehavior {
  switch (fault.fault) {
    case "no_terminator":
      return { kind: "stream_fault", after: 0, fault: fault.holdOpen ? "hold_open" : "no_message_stop" };
    case "error_event":
      return { kind: "stream_fault", after: 4, fault: "error_event", errorType: "overloaded_error" };
    default:
      return { kind: "stream_fault", after: fault.afterFirstDelta ? 4 : 1, fault: fault.fault };
  }
}

export const ANTHROPIC_WIRE: WireUnderTest = {
  name: "anthropic",
  upstreamModel: "claude-sonnet-5-5",
  embeddingModel: "claude-has-no-embeddings",
  rawFinish: { stop: "end_turn", length: "max_tokens", toolCalls: "tool_use", contentFilter: "refusal" },
  alwaysSendsMaxTokens: true,
  streamRequestFields: { stream: true },
  streamErrorFailure: "overloaded",
  skips: {
    embeddings: "Anthropic has no embeddings API; the wire refuses with `unsupported` (tested apart)",
  },
  async start() {
    const fake = await startFakeAnthropicServer({ apiKey: CONFORMANCE_API_KEY });
    const provider = providerSpec({ id: "anthropic", provider_type: "anthropic", endpoint: fake.baseUrl });
    const { client, closeTransport } = createWireClient(provider, CONFORMANCE_API_KEY);
    return {
      client,
      answerWith(answer) {
        if (answer.contentFilter) return fake.enqueue({ kind: "fixture", name: "anthropic-refusal.json" });
        fake.setReply({
          ...(answer.text !== undefined ? { text: answer.text } : {}),
          ...(answer.toolCalls
            ? { toolUses: answer.toolCalls.map(({ name, arguments: input }) => ({ name, input })) }
            : {}),
          ...(answer.usage
            ? {
                usage: {
                  input_tokens: answer.usage.promptTokens,
                  output_tokens: answer.usage.completionTokens,
                },
              }
            : {}),
        });
      },
      failWith: (failure) => fake.enqueue(toBehavior(failure)),
      failStreamWith: (fault) => fake.enqueue(toStreamBehavior(fault)),
      sentChats: () => fake.requests.filter((request) => request.path === "/v1/messages").map(summarise),
      sentEmbeddings: () => [],
      reset: () => fake.reset(),
      close: async () => {
        await closeTransport();
        await fake.close();
      },
    };
  },
};

/** Small payloads whose bytes are what their media type says (the fake sniffs them, as the API does). */
export const SAMPLE_MEDIA = {
  png: Buffer.from("89504e470d0a1a0a0000000d4948445200000001000000010806000000", "hex").toString("base64"),
  jpeg: Buffer.from("ffd8ffe000104a46494600010100000100010000", "hex").toString("base64"),
  pdf: Buffer.from("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n").toString("base64"),
  text: "Quarterly notes: revenue up 4%.",
};
