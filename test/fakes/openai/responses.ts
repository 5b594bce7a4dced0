// Writing the fake's answers with the headers OpenAI sends on every response.
import type { OutgoingHttpHeaders } from "node:http";
import type { HttpError } from "./errors.js";
import type { Exchange, ServerState } from "./server-state.js";

export function responseHeaders(
  state: ServerState,
  exchange: Exchange,
  contentType: string,
  extra: Record<string, string> | undefined,
): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {
    "content-type": contentType,
    "x-request-id": `req_${state.ids.next()}`,
    "openai-processing-ms": String(Date.now() - exchange.startedAt),
    "openai-version": "2020-10-01",
  };
  // Lower-cased so a caller's header replaces ours instead of being sent twice.
  if (extra) for (const [name, value] of Object.entries(extra)) headers[name.toLowerCase()] = value;
  return headers;
}

export function sendRaw(
  state: ServerState,
  exchange: Exchange,
  status: number,
  contentType: string,
  payload: string,
  extra?: Record<string, string>,
): void {
  const { res } = exchange;
  if (res.destroyed || exchange.req.socket.destroyed) return; // the client went away (e.g. during a delay)
  const headers = responseHeaders(state, exchange, contentType, extra);
  headers["content-length"] = Buffer.byteLength(payload);
  res.writeHead(status, headers);
  res.end(payload);
}

/** SSE goes out chunked, without content-length, as OpenAI sends it (written in one go, for speed). */
export function sendEventStream(state: ServerState, exchange: Exchange, events: string): void {
  const { res } = exchange;
  if (res.destroyed || exchange.req.socket.destroyed) return;
  res.writeHead(200, responseHeaders(state, exchange, "text/event-stream; charset=utf-8", undefined));
  res.write(events);
  res.end();
}

export function sendJson(
  state: ServerState,
  exchange: Exchange,
  status: number,
  body: unknown,
  extra?: Record<string, string>,
): void {
  sendRaw(state, exchange, status, "application/json", JSON.stringify(body) ?? "null", extra);
}

export function sendError(state: ServerState, exchange: Exchange, error: HttpError): void {
  sendJson(state, exchange, error.status, { error: error.error }, error.headers);
}
