// The benchmark's OTLP/HTTP receiver, in a process of its own: it reads each export request and
// acknowledges it (an empty protobuf answer, as a collector does on success) without decoding it.
// What it costs is a collector's, not the service's: in the load generator's process, decoding
// every span (as @elastic/mockotlpserver does) took CPU the 2 cores share with the service and
// skewed its figures. Counts requests and bytes per path, and the spans of trace exports (a walk
// over the protobuf's length-delimited fields, no decoding); GET /stats returns them.
// Prints `{"url":…}` on stdout once listening; exits on SIGTERM/SIGINT or when stdin closes.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const received = new Map<string, { requests: number; bytes: number; spans: number }>();

/** Reads a protobuf varint at `offset`; returns [value, next offset]. */
function varint(buffer: Buffer, offset: number): [number, number] {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = buffer[offset++]!;
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return [value, offset];
    shift += 7;
  }
}

/** Calls `visit` with each field of a message: its number and, for length-delimited ones, the bytes. */
function fields(buffer: Buffer, visit: (field: number, bytes: Buffer | undefined) => void): void {
  let offset = 0;
  while (offset < buffer.length) {
    const [tag, afterTag] = varint(buffer, offset);
    const wireType = tag & 7;
    offset = afterTag;
    if (wireType === 0) offset = varint(buffer, offset)[1];
    else if (wireType === 1) offset += 8;
    else if (wireType === 5) offset += 4;
    else if (wireType === 2) {
      const [length, start] = varint(buffer, offset);
      visit(Math.floor(tag / 8), buffer.subarray(start, start + length));
      offset = start + length;
      continue;
    } else throw new Error(`unexpected wire type ${wireType}`);
    visit(Math.floor(tag / 8), undefined);
  }
}

/** Spans in an ExportTraceServiceRequest: resource_spans (1) → scope_spans (2) → spans (2). */
function countSpans(body: Buffer): number {
  let spans = 0;
  fields(body, (field, resourceSpans) => {
    if (field !== 1 || !resourceSpans) return;
    fields(resourceSpans, (inner, scopeSpans) => {
      if (inner !== 2 || !scopeSpans) return;
      fields(scopeSpans, (leaf) => {
        if (leaf === 2) spans++;
      });
    });
  });
  return spans;
}

const server = createServer((request, response) => {
  if (request.method === "GET" && request.url === "/stats") {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify(Object.fromEntries(received)));
    return;
  }
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    const path = request.url ?? "/";
    const body = Buffer.concat(chunks);
    const seen = received.get(path) ?? { requests: 0, bytes: 0, spans: 0 };
    const spans = path === "/v1/traces" ? countSpans(body) : 0;
    received.set(path, {
      requests: seen.requests + 1,
      bytes: seen.bytes + body.length,
      spans: seen.spans + spans,
    });
    response.writeHead(200, { "content-type": "application/x-protobuf" });
    response.end();
  });
});

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
});

let closing = false;
function shutdown(): void {
  if (closing) return;
  closing = true;
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
// The bench holds our stdin open; when it goes away (even killed), so do we.
process.stdin.once("close", shutdown);
process.stdin.resume();
