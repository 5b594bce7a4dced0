// A local stand-in for Ollama's native API (`POST /api/chat`, `POST /api/embed`): its answer
// shapes with done_reason and the eval counts, NDJSON when `stream` is not false, and its error
// bodies `{"error":"…"}` with the statuses Ollama uses (404 for a model that is not pulled, 503
// when its queue is full). It refuses what Ollama's request decoding refuses (an `images` entry
// that is not raw base64, a `think` or `keep_alive` of the wrong shape) and `think` on a model
// without thinking; thinking models answer with `message.thinking` (streamed before the content).
// Answers start from wire fixtures in `__fixtures__/`.
import {
  asObject,
  estimateTokens,
  loadFixture,
  splitWords,
  startFakeHttpServer,
  textOf,
  truncateWords,
  type Exchange,
  type FakeHttpServer,
  type JsonObject,
} from "./fake-http-server.js";
import { fakeEmbedding } from "./openai-server.js";

export type OllamaFakeBehavior =
  /** Ollama's `{"error": message}`; an unset message gets a per-status default. */
  | { kind: "error"; status: number; message?: string; headers?: Record<string, string> }
  /** A fixture of `__fixtures__/`, sent as the 200 answer (its `model` replaced by the requested one). */
  | { kind: "fixture"; name: string }
  | { kind: "reply"; status?: number; body: unknown; headers?: Record<string, string> }
  /**
   * A streamed answer that goes wrong after `after` NDJSON lines (the first carries the first
   * word): `cut` destroys the socket, `stall` goes silent with the socket open, `malformed` sends a
   * line that is not JSON, `error_line` sends Ollama's `{"error": …}` line and closes, `no_done`
   * sends everything but the final `done: true` line and closes (a cut), `hold_open` sends every
   * line and keeps the socket open.
   */
  | {
      kind: "stream_fault";
      after: number;
      fault: "cut" | "stall" | "malformed" | "error_line" | "no_done" | "hold_open";
    };

export interface OllamaScriptedReply {
  /** Reply text; `undefined` keeps the echo. */
  content?: string;
  /** Reasoning of a thinking model asked to think; `undefined` keeps a made-up one. */
  thinking?: string;
  toolCalls?: { id?: string; name: string; arguments: JsonObject }[];
  doneReason?: string;
  promptEvalCount?: number;
  evalCount?: number;
}

export interface FakeOllamaServer extends FakeHttpServer<OllamaFakeBehavior> {
  /** `http://127.0.0.1:PORT`, Ollama's base URL (the client appends `/api/…`). */
  baseUrl: string;
  setReply(reply: OllamaScriptedReply): void;
}

export interface FakeOllamaServerOptions {
  /** When set, only these models are "pulled"; others get Ollama's 404. */
  models?: string[];
  /** When set, requests need `Authorization: Bearer <apiKey>` (Ollama behind an auth proxy). */
  apiKey?: string;
  /** Longest input `/api/embed` takes, in characters (a stand-in for the context length). */
  embedContextChars?: number;
  /** Models with Ollama's "thinking" capability; `think` on any other is refused as Ollama does. */
  thinkingModels?: string[];
}

const ERROR_DEFAULTS: Record<number, string> = {
  400: "invalid request",
  401: "unauthorized",
  404: 'model "llama3.2" not found, try pulling it first',
  429: "too many requests, please retry later",
  500: "llama runner process has terminated: exit status 2",
  503: "server busy, please try again.  maximum pending requests exceeded",
};
const EMBEDDING_DIMENSIONS = 8;

function chatAnswer(
  request: JsonObject,
  reply: OllamaScriptedReply | undefined,
  thinks: boolean,
): JsonObject {
  const messages = request["messages"] as unknown[];
  const last = asObject(messages.at(-1));
  const echo = `echo: ${textOf(last?.["content"])}${describeImages(last?.["images"])}`;
  const limit = asObject(request["options"])?.["num_predict"];
  const { text, truncated } = truncateWords(
    reply?.content ?? echo,
    typeof limit === "number" ? limit : undefined,
  );
  const message: JsonObject = { role: "assistant", content: reply?.toolCalls ? (reply.content ?? "") : text };
  if (thinks) message["thinking"] = reply?.thinking ?? `The user said: ${textOf(last?.["content"])}`;
  if (reply?.toolCalls) {
    message["tool_calls"] = reply.toolCalls.map((call, index) => ({
      ...(call.id !== undefined ? { id: call.id } : {}),
      function: { index, name: call.name, arguments: call.arguments },
    }));
  }
  return {
    ...loadFixture("ollama-chat.json"),
    model: request["model"],
    created_at: new Date().toISOString(),
    message,
    done_reason: reply?.doneReason ?? (truncated ? "length" : "stop"),
    prompt_eval_count: reply?.promptEvalCount ?? estimateTokens(JSON.stringify(messages).length),
    eval_count: reply?.evalCount ?? Math.max(1, estimateTokens(text.length)),
  };
}

/** The echo says what images the fake was given, so a test sees they arrived as bytes. */
function describeImages(images: unknown): string {
  if (!Array.isArray(images) || images.length === 0) return "";
  const bytes = images.map((image) => Buffer.from(textOf(image), "base64").length);
  return ` [${images.length} image(s): ${bytes.join(", ")} bytes]`;
}

const THINK_LEVELS = ["high", "medium", "low", "max"];
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** Go's time.ParseDuration: "0", or numbers each with a unit ("1h30m", "-1s", "1.5h"). */
const GO_DURATION = /^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+)$/;

/**
 * What Ollama's request decoding refuses, in its words: `images` are `[]byte` (JSON base64, so a
 * `data:` URL fails at its colon), `think` a boolean or level, `keep_alive` seconds or a Go duration.
 */
function chatDecodeError(request: JsonObject): string | undefined {
  const messages = Array.isArray(request["messages"]) ? (request["messages"] as unknown[]) : [];
  for (const message of messages) {
    const images = asObject(message)?.["images"];
    for (const image of Array.isArray(images) ? (images as unknown[]) : []) {
      const text = textOf(image);
      if (BASE64.test(text) && text.length % 4 === 0) continue;
      const at = [...text].findIndex((char) => !/[A-Za-z0-9+/=]/.test(char));
      return `illegal base64 data at input byte ${at === -1 ? text.length : at}`;
    }
  }
  const think = request["think"];
  if (typeof think === "string" && !THINK_LEVELS.includes(think))
    return `invalid think value: "${think}" (must be "high", "medium", "low", "max", true, or false)`;
  if (think !== undefined && typeof think !== "string" && typeof think !== "boolean")
    return 'think must be a boolean or string ("high", "medium", "low", "max", true, or false)';
  const keepAlive = request["keep_alive"];
  if (typeof keepAlive === "string" && !GO_DURATION.test(keepAlive))
    return /^[-+]?[\d.]+$/.test(keepAlive)
      ? `time: missing unit in duration "${keepAlive}"`
      : `time: invalid duration "${keepAlive}"`;
  return undefined;
}

/** Whether the model thinks on this request: Ollama turns thinking on by default where it can. */
function thinksOn(request: JsonObject, options: FakeOllamaServerOptions): boolean {
  const think = request["think"];
  const asked = think === undefined || think === true || typeof think === "string";
  return asked && (options.thinkingModels ?? []).includes(String(request["model"]));
}

/** `think` on for a model without thinking: Ollama's 400 (`false` is accepted by any model). */
function thinkRefusal(request: JsonObject, options: FakeOllamaServerOptions): string | undefined {
  const think = request["think"];
  const model = String(request["model"]);
  if (think === undefined || think === false || (options.thinkingModels ?? []).includes(model))
    return undefined;
  return `${JSON.stringify(model)} does not support thinking`;
}

/**
 * Ollama streams NDJSON unless `stream` is false: a line per word, the tool calls (whole) in a line
 * of their own, then the `done: true` line with the reason and the counts.
 */
function chatStreamLines(answer: JsonObject): string[] {
  const base = { model: answer["model"], created_at: answer["created_at"] };
  const message = asObject(answer["message"]) ?? {};
  const thinking = splitWords(textOf(message["thinking"])).map((piece) =>
    JSON.stringify({ ...base, message: { role: "assistant", content: "", thinking: piece }, done: false }),
  );
  const lines = splitWords(textOf(message["content"])).map((piece) =>
    JSON.stringify({ ...base, message: { role: "assistant", content: piece }, done: false }),
  );
  lines.unshift(...thinking);
  if (message["tool_calls"]) {
    const toolCalls = { role: "assistant", content: "", tool_calls: message["tool_calls"] };
    lines.push(JSON.stringify({ ...base, message: toolCalls, done: false }));
  }
  lines.push(JSON.stringify({ ...answer, message: { role: "assistant", content: "" }, done: true }));
  return lines.map((line) => `${line}\n`);
}

const NDJSON_CONTENT_TYPE = "application/x-ndjson";

function sendChatStream(exchange: Exchange, answer: JsonObject): void {
  exchange.openStream(200, NDJSON_CONTENT_TYPE).end(chatStreamLines(answer).join(""));
}

function sendChatStreamWithFault(
  exchange: Exchange,
  answer: JsonObject,
  behavior: Extract<OllamaFakeBehavior, { kind: "stream_fault" }>,
): void {
  const lines = chatStreamLines(answer);
  const head = lines.slice(0, behavior.after).join("");
  const stream = exchange.openStream(200, NDJSON_CONTENT_TYPE);
  switch (behavior.fault) {
    case "cut":
      return stream.cut(head);
    case "stall":
      return stream.write(head); // close() destroys the socket
    case "malformed":
      return stream.end(`${head}{this is not json\n${lines.slice(behavior.after).join("")}`);
    case "error_line":
      return stream.end(`${head}${JSON.stringify({ error: ERROR_DEFAULTS[500] })}\n`);
    case "no_done":
      return stream.end(lines.slice(0, -1).join(""));
    case "hold_open":
      return stream.write(lines.join(""));
  }
}

function embedAnswer(exchange: Exchange, request: JsonObject, options: FakeOllamaServerOptions): void {
  const input = request["input"];
  const texts = typeof input === "string" ? [input] : Array.isArray(input) ? input.map(String) : undefined;
  if (!texts) return exchange.sendJson(400, { error: "invalid input type" });
  const limit = options.embedContextChars ?? 8_192;
  if (request["truncate"] === false && texts.some((text) => text.length > limit)) {
    return exchange.sendJson(400, { error: "the input length exceeds the context length" });
  }
  const dimensions = typeof request["dimensions"] === "number" ? request["dimensions"] : EMBEDDING_DIMENSIONS;
  exchange.sendJson(200, {
    model: request["model"],
    embeddings: texts.map((text) => Array.from(fakeEmbedding(text, dimensions))),
    total_duration: 14_143_917,
    load_duration: 1_019_500,
    prompt_eval_count: texts.reduce((sum, text) => sum + estimateTokens(text.length), 0),
  });
}

export async function startFakeOllamaServer(
  options: FakeOllamaServerOptions = {},
): Promise<FakeOllamaServer> {
  let reply: OllamaScriptedReply | undefined;

  const server = await startFakeHttpServer<OllamaFakeBehavior>({
    malformedBody: '{"model":"llama3.2","message":{"role":"assistant","content":"Hel',
    preflight(exchange) {
      if (options.apiKey !== undefined && exchange.headers.authorization !== `Bearer ${options.apiKey}`) {
        exchange.sendJson(401, { error: "unauthorized" });
        return true;
      }
      if (exchange.method !== "POST" || !["/api/chat", "/api/embed"].includes(exchange.path)) {
        exchange.sendRaw(404, "text/plain; charset=utf-8", "404 page not found");
        return true;
      }
      const body = asObject(exchange.body);
      if (!body) {
        exchange.sendJson(400, { error: "invalid character 'x' looking for beginning of value" });
        return true;
      }
      const decodeError = exchange.path === "/api/chat" ? chatDecodeError(body) : undefined;
      if (decodeError !== undefined) {
        exchange.sendJson(400, { error: decodeError });
        return true;
      }
      const model = body["model"];
      if (typeof model !== "string" || model === "") {
        exchange.sendJson(400, { error: "model is required" });
        return true;
      }
      if (options.models && !options.models.includes(model)) {
        exchange.sendJson(404, { error: `model "${model}" not found, try pulling it first` });
        return true;
      }
      const refusal = exchange.path === "/api/chat" ? thinkRefusal(body, options) : undefined;
      if (refusal !== undefined) {
        exchange.sendJson(400, { error: refusal });
        return true;
      }
      return false;
    },
    respond(exchange, behavior) {
      const request = exchange.body as JsonObject;
      switch (behavior?.kind) {
        case undefined: {
          if (exchange.path === "/api/embed") return embedAnswer(exchange, request, options);
          const answer = chatAnswer(request, reply, thinksOn(request, options));
          return request["stream"] === false
            ? exchange.sendJson(200, answer)
            : sendChatStream(exchange, answer);
        }
        case "stream_fault":
          return sendChatStreamWithFault(
            exchange,
            chatAnswer(request, reply, thinksOn(request, options)),
            behavior,
          );
        case "reply":
          return exchange.sendJson(behavior.status ?? 200, behavior.body, behavior.headers);
        case "fixture":
          return exchange.sendJson(200, { ...loadFixture(behavior.name), model: request["model"] });
        case "error": {
          const message = behavior.message ?? ERROR_DEFAULTS[behavior.status] ?? `status ${behavior.status}`;
          return exchange.sendJson(behavior.status, { error: message }, behavior.headers);
        }
      }
    },
  });

  return {
    ...server,
    baseUrl: server.origin,
    setReply(next) {
      reply = next;
    },
    reset() {
      reply = undefined;
      server.reset();
    },
  };
}
