// The benchmark's OTLP/HTTP receiver, in a process of its own: it reads each export request and
// acknowledges it (an empty protobuf answer, as a collector does on success) without decoding it.
// What it costs is a collector's, not the service's: in the load generator's process, decoding
// every span (as @elastic/mockotlpserver does) took CPU the 2 cores share with the service and
// skewed its figures. Counts requests and bytes per path; GET /stats returns them.
// Prints `{"url":…}` on stdout once listening; exits on SIGTERM/SIGINT or when stdin closes.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const received = new Map<string, { requests: number; bytes: number }>();

const server = createServer((request, response) => {
  if (request.method === "GET" && request.url === "/stats") {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify(Object.fromEntries(received)));
    return;
  }
  let bytes = 0;
  request.on("data", (chunk: Buffer) => (bytes += chunk.length));
  request.on("end", () => {
    const path = request.url ?? "/";
    const seen = received.get(path) ?? { requests: 0, bytes: 0 };
    received.set(path, { requests: seen.requests + 1, bytes: seen.bytes + bytes });
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
