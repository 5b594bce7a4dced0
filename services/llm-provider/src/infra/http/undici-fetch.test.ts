import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpDispatcher, createUndiciFetch } from "./undici-fetch.js";

type Route = (request: IncomingMessage, body: string, response: ServerResponse) => void;

const routes: Record<string, Route> = {
  "/json": (request, body, response) => {
    response.setHeader("content-type", "application/json");
    response.setHeader("x-request-id", "req-1");
    response.setHeader("set-cookie", ["a=1", "b=2"]);
    response.end(JSON.stringify({ method: request.method, auth: request.headers.authorization, body }));
  },
  "/error": (_request, _body, response) => {
    response.statusCode = 429;
    response.setHeader("retry-after", "2");
    response.end('{"error":{"message":"slow down"}}');
  },
  "/empty": (_request, _body, response) => {
    response.statusCode = 204;
    response.end();
  },
  "/events": (_request, _body, response) => {
    response.setHeader("content-type", "text/event-stream");
    response.write("data: one\n\n");
    setImmediate(() => response.end("data: two\n\n"));
  },
  "/stall": (_request, _body, response) => {
    response.setHeader("content-type", "text/event-stream");
    response.write("data: first\n\n"); // and nothing more: the idle limit must end it
  },
};

let baseUrl = "";
const server = createServer((request, response) => {
  let body = "";
  request.setEncoding("utf8");
  request.on("data", (chunk: string) => (body += chunk));
  request.on("end", () => routes[request.url ?? ""]?.(request, body, response));
});
const dispatcher = createHttpDispatcher();
const fetch = createUndiciFetch(dispatcher, { idleMs: 200 });

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await dispatcher.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("createUndiciFetch", () => {
  it("sends method, headers and body, and answers with a standard Response", async () => {
    const response = await fetch(`${baseUrl}/json`, {
      method: "POST",
      headers: new Headers({ authorization: "Bearer sk-test", "content-type": "application/json" }),
      body: '{"q":1}',
    });
    expect(response).toBeInstanceOf(Response);
    expect(response.ok).toBe(true);
    expect(response.headers.get("x-request-id")).toBe("req-1");
    expect(response.headers.getSetCookie()).toEqual(["a=1", "b=2"]);
    expect(await response.json()).toEqual({ method: "POST", auth: "Bearer sk-test", body: '{"q":1}' });
    expect(response.bodyUsed).toBe(true);
  });

  it("passes error statuses and their headers through", async () => {
    const response = await fetch(`${baseUrl}/error`, { headers: [["accept", "application/json"]] });
    expect(response.status).toBe(429);
    expect(response.ok).toBe(false);
    expect(response.headers.get("retry-after")).toBe("2");
    expect(await response.text()).toContain("slow down");
  });

  it("answers a 204 with no body", async () => {
    const response = await fetch(new URL(`${baseUrl}/empty`));
    expect(response.status).toBe(204);
    expect(response.body).toBeNull();
  });

  it("keeps an event stream a stream", async () => {
    const response = await fetch(`${baseUrl}/events`);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += chunk.value;
    expect(text).toBe("data: one\n\ndata: two\n\n");
  });

  it("fails a body that stalls longer than the idle limit", async () => {
    const response = await fetch(`${baseUrl}/stall`);
    const reader = response.body!.getReader();
    await reader.read();
    await expect(reader.read()).rejects.toThrow(/timeout/i);
  });

  it("is cancelled by the caller's signal", async () => {
    const controller = new AbortController();
    controller.abort(new Error("caller gave up"));
    await expect(fetch(`${baseUrl}/json`, { signal: controller.signal })).rejects.toThrow();
  });
});
