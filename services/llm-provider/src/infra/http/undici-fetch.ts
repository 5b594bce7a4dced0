import { Readable } from "node:stream";
import { Agent, request } from "undici";

export interface UndiciFetchOptions {
  /**
   * Longest gap between two reads of a response body (a stalled body fails the call). The time
   * to the response headers is the caller's: its abort signal.
   */
  idleMs: number;
}

/**
 * The `fetch` handed to the provider SDKs (their supported `fetch` option): `undici.request` on the
 * shared pool, answered with a standard `Response`. undici's WHATWG `fetch` costs several times the
 * CPU per call of `request` (docs/decisions/0004-provider-fetch-on-undici-request.md). A JSON body is
 * read whole first; event streams and NDJSON stay streams.
 */
export function createUndiciFetch(dispatcher: Agent, options: UndiciFetchOptions): typeof fetch {
  return async function undiciRequestFetch(input, init) {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const requestHeaders = toHeaderRecord(init?.headers);
    let body = init?.body as string | Buffer | undefined;
    if (init?.body instanceof FormData) {
      // A file upload (batch input): Node's own FormData is not the undici package's, so it is
      // encoded here, boundary and all, by the platform's Response.
      const encoded = new Response(init.body);
      requestHeaders["content-type"] = encoded.headers.get("content-type") ?? "multipart/form-data";
      body = Buffer.from(await encoded.arrayBuffer());
    }
    const response = await request(url, {
      dispatcher,
      method: (init?.method ?? "GET") as "GET",
      headers: requestHeaders,
      body,
      signal: init?.signal ?? undefined,
      headersTimeout: 0,
      bodyTimeout: options.idleMs,
    });
    const { statusCode: status } = response;
    const headers = toHeaderPairs(response.headers);
    if (status === 204 || status === 304) {
      await response.body.dump();
      return new Response(null, { status, headers });
    }
    const contentType = response.headers["content-type"];
    if (
      typeof contentType === "string" &&
      (contentType.includes("text/event-stream") || contentType.includes("application/x-ndjson"))
    ) {
      return new Response(Readable.toWeb(response.body) as ReadableStream<Uint8Array>, { status, headers });
    }
    return new Response(await response.body.arrayBuffer(), { status, headers });
  };
}

/** undici's header record as pairs: a header sent more than once keeps every value. */
function toHeaderPairs(raw: Record<string, string | string[] | undefined>): [string, string][] {
  const pairs: [string, string][] = [];
  for (const [name, value] of Object.entries(raw)) {
    if (Array.isArray(value)) for (const item of value) pairs.push([name, item]);
    else if (value !== undefined) pairs.push([name, value]);
  }
  return pairs;
}

function toHeaderRecord(headers: RequestInit["headers"]): Record<string, string> {
  const record: Record<string, string> = {};
  if (headers === undefined) return record;
  if (headers instanceof Headers) {
    headers.forEach((value, name) => (record[name] = value));
  } else if (Array.isArray(headers)) {
    for (const [name, value] of headers) if (name !== undefined && value !== undefined) record[name] = value;
  } else {
    Object.assign(record, headers);
  }
  return record;
}

/** One connection pool per process, kept alive between calls. */
export function createHttpDispatcher(): Agent {
  return new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 300_000, connections: 256 });
}
