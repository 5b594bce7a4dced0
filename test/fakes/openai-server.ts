// A local stand-in for api.openai.com that speaks the real REST wire format (bodies, headers, SSE,
// error envelopes), so production code can be driven through the official `openai` SDK in tests.
// It also serves benchmarks, so the hot path avoids logging and needless work. The endpoints' wire
// lives in openai/ (chat-completions, embeddings, errors); this module routes each request to its
// endpoint or to the behavior a test scripted.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { asObject } from "./fake-http-server.js";
import { listenOnLoopback } from "./listen-on-loopback.js";
import {
  BATCH_LINE_HEADER,
  answerBatchApi,
  createBatchApiState,
  type FakeBatchEnding,
} from "./openai/batches.js";
import {
  answerChat,
  answerChatSlowly,
  answerChatStreamWithFault,
  answerGatedChatStream,
} from "./openai/chat-completions.js";
import { answerEmbeddings } from "./openai/embeddings.js";
import { checkApiKey, errorFromBehavior, INTERNAL_ERROR_BODY } from "./openai/errors.js";
import { sendError, sendJson, sendRaw } from "./openai/responses.js";
import { IdGenerator, type Exchange, type FakeBehavior, type ServerState } from "./openai/server-state.js";
import type { FakeChatReply, FakeOpenAIServerOptions, RecordedRequest } from "./openai/server-state.js";

export type { FakeBatchEnding } from "./openai/batches.js";
export { openRouterCost } from "./openai/chat-usage.js";
export { fakeEmbedding } from "./openai/embeddings.js";
export type {
  FakeBehavior,
  FakeChatReply,
  FakeFlavour,
  FakeOpenAIServerOptions,
  RecordedRequest,
} from "./openai/server-state.js";

export interface FakeOpenAIServer {
  /** `http://127.0.0.1:PORT/v1` — pass as the SDK's `baseURL`. */
  baseUrl: string;
  port: number;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /** One behavior per upcoming request (FIFO); when the queue is empty the default answer is used. */
  enqueue(...behaviors: FakeBehavior[]): void;
  /** Changes the default chat answer. */
  setChatReply(reply: FakeChatReply): void;
  /** Every request for `model` gets `behavior` (undefined: as any other) until reset. */
  setModelBehavior(model: string, behavior: FakeBehavior | undefined): void;
  /** How the next batches created end instead of completing, one per batch (FIFO). */
  scriptBatchEndings(...endings: FakeBatchEnding[]): void;
  /** Clears the queue, the recorded requests, the custom chat reply, files and batches. */
  reset(): void;
  /** Closes the server and destroys all open sockets, including hanging requests. */
  close(): Promise<void>;
}

const DEFAULT_MALFORMED_BODY = '{"id":"chatcmpl-malformed","object":"chat.completion","choices":[{';
const MODEL_IDS = [
  "gpt-4o-mini",
  "gpt-4o",
  "gpt-4.1-mini",
  "text-embedding-3-small",
  "text-embedding-3-large",
];
const MODELS_CREATED = 1_700_000_000;

function answerModels(state: ServerState, exchange: Exchange): void {
  const data = MODEL_IDS.map((id) => ({ id, object: "model", created: MODELS_CREATED, owned_by: "openai" }));
  sendJson(state, exchange, 200, { object: "list", data });
}

function answerDefault(state: ServerState, exchange: Exchange): void {
  const route = `${exchange.method} ${exchange.path}`;
  if (route === "POST /v1/chat/completions") return answerChat(state, exchange);
  if (route === "POST /v1/embeddings") return answerEmbeddings(state, exchange);
  if (route === "GET /v1/models") return answerModels(state, exchange);
  if (answerBatchApi(state, exchange)) return;
  sendError(state, exchange, {
    status: 404,
    error: { message: `Invalid URL (${route})`, type: "invalid_request_error", param: null, code: null },
  });
}

function perform(state: ServerState, exchange: Exchange, behavior: FakeBehavior): void {
  switch (behavior.kind) {
    case "default":
      return answerDefault(state, exchange);
    case "reply":
      return sendJson(state, exchange, behavior.status ?? 200, behavior.body, behavior.headers);
    case "error":
      return sendError(state, exchange, errorFromBehavior(behavior));
    case "malformed":
      return sendRaw(state, exchange, 200, "application/json", behavior.body ?? DEFAULT_MALFORMED_BODY);
    case "reset":
      exchange.req.socket.destroy();
      return;
    case "hang":
      return; // close() destroys the socket
    case "stream_fault":
      return answerChatStreamWithFault(state, exchange, behavior);
    case "slow_body":
      return answerChatSlowly(state, exchange, behavior.ms);
    case "cut_body":
      return answerChatSlowly(state, exchange, "cut");
    case "gated_stream":
      return answerGatedChatStream(state, exchange, behavior);
    case "delay": {
      const timer = setTimeout(() => {
        state.timers.delete(timer);
        perform(state, exchange, behavior.then ?? { kind: "default" });
      }, behavior.ms);
      state.timers.add(timer);
      return;
    }
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.once("end", () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    req.once("error", reject);
  });
}

function parseJsonBody(raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString("utf8")) as unknown;
  } catch {
    return undefined;
  }
}

function pathOf(url: string | undefined): string {
  const raw = url ?? "/";
  const queryAt = raw.indexOf("?");
  return queryAt === -1 ? raw : raw.slice(0, queryAt);
}

async function handleRequest(state: ServerState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const startedAt = Date.now();
  const raw = await readBody(req);
  const body = parseJsonBody(raw);
  const exchange: Exchange = {
    method: req.method ?? "GET",
    path: pathOf(req.url),
    body,
    raw,
    req,
    res,
    startedAt,
  };
  if (state.options.recordRequests ?? true) {
    state.requests.push({ method: exchange.method, path: exchange.path, headers: req.headers, body });
  }
  // Like the real API, authentication comes first; a rejected request does not use up a queued behavior.
  const authError = checkApiKey(state.options.apiKey, req.headers.authorization);
  if (authError) return sendError(state, exchange, authError);
  const delay = state.options.defaultDelayMs;
  const model = asObject(body)?.["model"];
  const forModel = typeof model === "string" ? state.modelBehaviors.get(model) : undefined;
  // A batch line (the fake answering its own batch) takes a model's behavior but not the queue's,
  // which is the test's script for the calls the client makes.
  if (req.headers[BATCH_LINE_HEADER] !== undefined) {
    return perform(state, exchange, forModel ?? { kind: "default" });
  }
  perform(
    state,
    exchange,
    forModel ?? state.queue.shift() ?? (delay ? { kind: "delay", ms: delay } : { kind: "default" }),
  );
}

function onRequest(state: ServerState, req: IncomingMessage, res: ServerResponse): void {
  handleRequest(state, req, res).catch(() => {
    // A client that disconnects mid-body, or a bug here: never leave the socket dangling.
    if (!res.headersSent && !res.destroyed) {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(INTERNAL_ERROR_BODY);
    } else {
      req.socket.destroy();
    }
  });
}

export async function startFakeOpenAIServer(
  options: FakeOpenAIServerOptions = {},
): Promise<FakeOpenAIServer> {
  const state: ServerState = {
    queue: [],
    requests: [],
    chatReply: undefined,
    modelBehaviors: new Map(),
    timers: new Set(),
    ids: new IdGenerator(),
    options,
    promptCache: new Set(),
    batchApi: createBatchApiState(),
  };
  // HTTP keep-alive is Node's default; no per-request logging on purpose (benchmarks use this too).
  const server = createServer((req, res) => onRequest(state, req, res));
  const { port, close } = await listenOnLoopback(server, state.timers);
  state.batchApi.origin = `http://127.0.0.1:${port}`;

  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    port,
    requests: state.requests,
    enqueue(...behaviors) {
      state.queue.push(...behaviors);
    },
    setChatReply(reply) {
      state.chatReply = reply;
    },
    setModelBehavior(model, behavior) {
      if (behavior) state.modelBehaviors.set(model, behavior);
      else state.modelBehaviors.delete(model);
    },
    scriptBatchEndings(...endings) {
      state.batchApi.endings.push(...endings);
    },
    reset() {
      state.batchApi = { ...createBatchApiState(), origin: state.batchApi.origin };
      state.queue.length = 0;
      state.requests.length = 0; // in place: callers may hold a reference to `requests`
      state.chatReply = undefined;
      state.modelBehaviors.clear();
      state.promptCache.clear();
    },
    close,
  };
}
