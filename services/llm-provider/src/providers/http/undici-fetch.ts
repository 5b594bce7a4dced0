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
 * A `fetch` for the provider SDKs built on `undici.request`, which costs a fraction of the CPU of
 * the WHATWG `fetch` per call. Non-streaming bodies are read whole; event streams and NDJSON stay streams.
 */
export function createUndiciFetch(dispatcher: Agent, options: UndiciFetchOptions): typeof fetch {
  return async function undiciRequestFetch(input, init) {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const response = await request(url, {
      dispatcher,
      method: (init?.method ?? "GET") as "GET",
      headers: toHeaderRecord(init?.headers),
      body: init?.body as string | Buffer | undefined,
      signal: init?.signal ?? undefined,
      headersTimeout: 0,
      bodyTimeout: options.idleMs,
    });
    const status = response.statusCode;
    const contentType = response.headers["content-type"];
    // Event streams (SSE) and Ollama's NDJSON stay streams.
    if (
      typeof contentType === "string" &&
      (contentType.includes("text/event-stream") || contentType.includes("application/x-ndjson"))
    ) {
      return new Response(Readable.toWeb(response.body) as ReadableStream<Uint8Array>, {
        status,
        headers: toWebHeaders(response.headers),
      });
    }
    const bytes =
      status === 204 || status === 304
        ? new Uint8Array(0)
        : new Uint8Array(await response.body.arrayBuffer());
    return new BufferedResponse(
      url,
      status,
      new BufferedHeaders(response.headers),
      bytes,
    ) as unknown as Response;
  };
}

type RawHeaders = Record<string, string | string[] | undefined>;

function toWebHeaders(raw: RawHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else if (value !== undefined) headers.set(name, value);
  }
  return headers;
}

/**
 * The read side of `Headers` over undici's plain header object. Building a WHATWG `Headers` and
 * `Response` (with its web stream) per call is a large share of a small call's CPU; the SDKs only
 * read these members, and the wire tests run every path through them.
 */
class BufferedHeaders {
  readonly #values = new Map<string, string>();

  constructor(raw: RawHeaders) {
    for (const [name, value] of Object.entries(raw)) {
      if (value !== undefined)
        this.#values.set(name.toLowerCase(), Array.isArray(value) ? value.join(", ") : value);
    }
  }

  get(name: string): string | null {
    return this.#values.get(name.toLowerCase()) ?? null;
  }

  has(name: string): boolean {
    return this.#values.has(name.toLowerCase());
  }

  forEach(callback: (value: string, name: string) => void): void {
    for (const [name, value] of this.#values) callback(value, name);
  }

  entries(): IterableIterator<[string, string]> {
    return this.#values.entries();
  }

  keys(): IterableIterator<string> {
    return this.#values.keys();
  }

  values(): IterableIterator<string> {
    return this.#values.values();
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.#values.entries();
  }
}

/** A `Response` whose body was read whole: what a non-streaming JSON call needs, without a web stream. */
class BufferedResponse {
  readonly ok: boolean;
  readonly statusText = "";
  readonly redirected = false;
  readonly type = "basic";
  #used = false;

  constructor(
    readonly url: string,
    readonly status: number,
    readonly headers: BufferedHeaders,
    readonly bytes: Uint8Array,
  ) {
    this.ok = status >= 200 && status < 300;
  }

  get bodyUsed(): boolean {
    return this.#used;
  }

  /** Only error paths touch it (to cancel it); made on demand. */
  get body(): ReadableStream<Uint8Array> | null {
    return new Response(this.bytes.length > 0 ? this.bytes : null).body;
  }

  text(): Promise<string> {
    this.#used = true;
    return Promise.resolve(decoder.decode(this.bytes));
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text()) as unknown;
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    this.#used = true;
    return Promise.resolve(this.bytes.slice().buffer);
  }
}

const decoder = new TextDecoder();

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
