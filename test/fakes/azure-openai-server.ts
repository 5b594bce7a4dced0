// A stand-in for an Azure OpenAI resource: Azure's URL scheme
// (`/openai/deployments/{deployment}/chat/completions?api-version=…`), its `api-key` header and
// its own 401/404 bodies, in front of the OpenAI fake — Azure serves the OpenAI wire, so every
// behavior of that fake (errors, hangs, resets, broken JSON) is enqueued on `openai`.
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { startFakeOpenAIServer, type FakeOpenAIServer } from "./openai-server.js";
import type { RecordedRequest } from "./fake-http-server.js";

export interface FakeAzureOpenAIServer {
  /** The resource endpoint, e.g. `http://127.0.0.1:PORT` (the SDK appends `/openai`). */
  endpoint: string;
  /** What reached Azure, before it was handed to the OpenAI wire. */
  requests: RecordedRequest[];
  /** The OpenAI wire behind it: enqueue behaviors and set replies here. */
  openai: FakeOpenAIServer;
  reset(): void;
  close(): Promise<void>;
}

export interface FakeAzureOpenAIServerOptions {
  apiKey: string;
  deployments: string[];
  apiVersions?: string[];
}

const ROUTE = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/;
const DENIED =
  "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key " +
  "for an active subscription and use a correct regional API endpoint for your resource.";
const DEPLOYMENT_NOT_FOUND =
  "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.";

export async function startFakeAzureOpenAIServer(
  options: FakeAzureOpenAIServerOptions,
): Promise<FakeAzureOpenAIServer> {
  const openai = await startFakeOpenAIServer();
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const apiVersions = options.apiVersions ?? ["2024-10-21"];

  const server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
    incoming.once("end", () => {
      const raw = Buffer.concat(chunks);
      const url = new URL(incoming.url ?? "/", "http://fake");
      requests.push(recordRequest(incoming, url, raw));
      if (incoming.headers["api-key"] !== options.apiKey) return sendAzureError(outgoing, 401, "401", DENIED);
      const route = ROUTE.exec(url.pathname);
      const version = url.searchParams.get("api-version");
      if (!route || version === null || !apiVersions.includes(version))
        return sendAzureError(outgoing, 404, "404", "Resource not found");
      if (!options.deployments.includes(route[1]!)) {
        return sendAzureError(outgoing, 404, "DeploymentNotFound", DEPLOYMENT_NOT_FOUND);
      }
      forwardToOpenAI(`${openai.baseUrl}/${route[2]}`, raw, incoming, outgoing);
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as AddressInfo).port;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    openai,
    reset() {
      requests.length = 0;
      openai.reset();
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      await openai.close();
    },
  };
}

function recordRequest(incoming: IncomingMessage, url: URL, raw: Buffer): RecordedRequest {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString("utf8"));
  } catch {
    body = undefined;
  }
  return {
    method: incoming.method ?? "GET",
    path: url.pathname,
    query: url.searchParams,
    headers: incoming.headers,
    body,
  };
}

/** Azure's own error body, as its front answers before the OpenAI wire is reached. */
function sendAzureError(outgoing: ServerResponse, status: number, code: string, message: string): void {
  const payload = JSON.stringify({ error: { code, message } });
  outgoing.writeHead(status, {
    "content-type": "application/json",
    "apim-request-id": crypto.randomUUID(),
  });
  outgoing.end(payload);
}

/** Hands the request to the OpenAI fake at `target` and pipes its answer back, faults included. */
function forwardToOpenAI(
  target: string,
  raw: Buffer,
  incoming: IncomingMessage,
  outgoing: ServerResponse,
): void {
  const upstream = httpRequest(
    target,
    { method: "POST", headers: { "content-type": "application/json", "content-length": raw.length } },
    (answer) => {
      outgoing.writeHead(answer.statusCode ?? 502, {
        ...answer.headers,
        "x-ms-region": "Sweden Central",
      });
      answer.pipe(outgoing);
      // An upstream stream cut mid-answer is cut to the client too, not left hanging.
      answer.once("close", () => {
        if (!answer.complete) incoming.socket.destroy();
      });
    },
  );
  // The OpenAI fake reset the connection: so does Azure's front, to the client; and a client
  // that gives up (timeout) ends the upstream request too.
  upstream.once("error", () => incoming.socket.destroy());
  outgoing.once("close", () => upstream.destroy());
  upstream.end(raw);
}
