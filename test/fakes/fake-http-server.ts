// Plumbing shared by the Anthropic and Ollama fakes: a loopback HTTP server that records every
// request, answers from a FIFO of scripted behaviors, and can hang, reset or send broken JSON the
// way a real network and a real provider sometimes do. The wire formats live in each fake.
import { readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import { listenOnLoopback } from "./listen-on-loopback.js";

export interface RecordedRequest {
  method: string;
  /** URL path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body; undefined when there was none or it was not JSON. */
  body: unknown;
}

/** Behaviors every fake understands; each fake adds its own wire-specific ones. */
export type TransportBehavior =
  /** Never answer; the socket stays open until the client gives up or the server closes. */
  | { kind: "hang" }
  /** Destroy the socket before any response header. */
  | { kind: "reset" }
  /** 200, `content-type: application/json`, a body that is not JSON. */
  | { kind: "malformed"; body?: string }
  /** Wait, then do `then` (default: the normal answer). */
  | { kind: "delay"; ms: number; then?: unknown };

export interface Exchange extends RecordedRequest {
  /** When the request arrived (ms since epoch). */
  startedAt: number;
  sendJson(status: number, body: unknown, headers?: Record<string, string>): void;
  sendRaw(status: number, contentType: string, payload: string, headers?: Record<string, string>): void;
  /** Starts a chunked answer (SSE, NDJSON) to write piece by piece; no content-length. */
  openStream(status: number, contentType: string): StreamingAnswer;
}

/** A streamed answer under way; writes after the client went away are dropped. */
export interface StreamingAnswer {
  write(text: string): void;
  end(text?: string): void;
  /** Writes `text`, then destroys the socket: the stream breaks mid-answer. */
  cut(text: string): void;
}

export interface FakeHttpServer<TBehavior> {
  /** `http://127.0.0.1:PORT` */
  origin: string;
  port: number;
  requests: RecordedRequest[];
  /** One behavior per upcoming request (FIFO); when the queue is empty the normal answer is given. */
  enqueue(...behaviors: (TBehavior | TransportBehavior)[]): void;
  /** Clears the queue and the recorded requests (in place: callers may hold `requests`). */
  reset(): void;
  /** Closes the server and destroys all sockets, hanging requests included. */
  close(): Promise<void>;
}

export interface FakeHttpServerOptions<TBehavior> {
  /**
   * Runs before a behavior is taken from the queue (authentication, required headers, JSON).
   * Returns true when it has answered; the queued behavior then stays for the next request.
   */
  preflight?: (exchange: Exchange) => boolean;
  /** Answers with the wire's own behavior, or the normal answer when `behavior` is undefined. */
  respond: (exchange: Exchange, behavior: TBehavior | undefined) => void;
  /** Headers the provider sends on every response (request ids and the like). */
  responseHeaders?: (exchange: Exchange) => Record<string, string>;
  malformedBody: string;
}

const TRANSPORT_KINDS = new Set(["hang", "reset", "malformed", "delay"]);

function isTransport(behavior: { kind: string }): behavior is TransportBehavior {
  return TRANSPORT_KINDS.has(behavior.kind);
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.once("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.once("error", reject);
  });
}

function parseJson(raw: string): unknown {
  if (raw === "") return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return undefined;
  }
}

/** The request as a fake sees it, with the ways to answer it. */
function createExchange(
  request: IncomingMessage,
  response: ServerResponse,
  raw: string,
  responseHeaders: ((exchange: Exchange) => Record<string, string>) | undefined,
): Exchange {
  const url = new URL(request.url ?? "/", "http://fake");
  const exchange: Exchange = {
    method: request.method ?? "GET",
    path: url.pathname,
    query: url.searchParams,
    headers: request.headers,
    body: parseJson(raw),
    startedAt: Date.now(),
    sendRaw(status, contentType, payload, headers = {}) {
      if (response.destroyed || request.socket.destroyed) return; // the client went away
      response.writeHead(status, {
        "content-type": contentType,
        "content-length": Buffer.byteLength(payload),
        ...responseHeaders?.(exchange),
        ...headers,
      });
      response.end(payload);
    },
    sendJson(status, body, headers) {
      exchange.sendRaw(status, "application/json", JSON.stringify(body), headers);
    },
    openStream(status, contentType) {
      const gone = () => response.destroyed || request.socket.destroyed;
      if (!gone()) {
        response.writeHead(status, { "content-type": contentType, ...responseHeaders?.(exchange) });
      }
      return {
        write: (text) => void (gone() || response.write(text)),
        end: (text) => void (gone() || response.end(text)),
        cut(text) {
          if (gone()) return;
          if (text === "") response.flushHeaders();
          response.write(text, () => setImmediate(() => request.socket.destroy()));
        },
      };
    },
  };
  return exchange;
}

/** Carries out a transport behavior itself and hands any other to the fake's `respond`. */
function perform<TBehavior extends { kind: string }>(
  exchange: Exchange,
  request: IncomingMessage,
  behavior: TBehavior | TransportBehavior | undefined,
  options: FakeHttpServerOptions<TBehavior>,
  timers: Set<NodeJS.Timeout>,
): void {
  if (behavior === undefined || !isTransport(behavior)) return options.respond(exchange, behavior);
  switch (behavior.kind) {
    case "hang":
      return;
    case "reset":
      request.socket.destroy();
      return;
    case "malformed":
      return exchange.sendRaw(200, "application/json", behavior.body ?? options.malformedBody);
    case "delay": {
      const timer = setTimeout(() => {
        timers.delete(timer);
        const then = behavior.then as TBehavior | TransportBehavior | undefined;
        perform(exchange, request, then, options, timers);
      }, behavior.ms);
      timers.add(timer);
      return;
    }
  }
}

export async function startFakeHttpServer<TBehavior extends { kind: string }>(
  options: FakeHttpServerOptions<TBehavior>,
): Promise<FakeHttpServer<TBehavior>> {
  const queue: (TBehavior | TransportBehavior)[] = [];
  const requests: RecordedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const server = createServer((request, response) => {
    readBody(request)
      .then((raw) => {
        const exchange = createExchange(request, response, raw, options.responseHeaders);
        const { method, path, query, headers, body } = exchange;
        requests.push({ method, path, query, headers, body });
        if (options.preflight?.(exchange)) return;
        perform(exchange, request, queue.shift(), options, timers);
      })
      .catch(() => request.socket.destroy());
  });
  const { port, close } = await listenOnLoopback(server, timers);

  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    requests,
    enqueue: (...behaviors) => void queue.push(...behaviors),
    reset() {
      queue.length = 0;
      requests.length = 0;
    },
    close,
  };
}

/** Splits text into words with their trailing space, so that `words.join("") === text`. */
export function splitWords(text: string): string[] {
  return text.match(/\s*\S+\s*/g) ?? (text ? [text] : []);
}

/** The first `limit` words of `text`, trimmed at the cut; whether anything was cut off. */
export function truncateWords(text: string, limit: number | undefined): { text: string; truncated: boolean } {
  const words = splitWords(text);
  if (limit === undefined || words.length <= limit) return { text, truncated: false };
  return { text: words.slice(0, Math.max(0, limit)).join("").trimEnd(), truncated: true };
}

/** Deterministic stand-in for a tokenizer: a token per 4 characters, at least 1. */
export function estimateTokens(charCount: number): number {
  return Math.max(1, Math.ceil(charCount / 4));
}

export type JsonObject = Record<string, unknown>;

/** A JSON value as text: strings as they are, anything else as "". */
export function textOf(value: unknown): string {
  return typeof value === "string" ? value : "";
}

export function asObject(value: unknown): JsonObject | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as JsonObject)
    : undefined;
}

/** A recorded wire answer from `__fixtures__/`. */
export function loadFixture(name: string): JsonObject {
  return JSON.parse(readFileSync(new URL(`__fixtures__/${name}`, import.meta.url), "utf8")) as JsonObject;
}
