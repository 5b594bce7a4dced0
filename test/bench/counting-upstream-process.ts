// The fake OpenAI upstream in a process of its own, counting what it embedded: how many
// /v1/embeddings calls came, how many inputs they carried, and how many of those inputs it had
// embedded before (an item computed twice). The jobs bench reads the counts from a second loopback
// port: GET /stats → {"calls","inputs","repeated"}, POST /reset clears them.
// Prints `{"baseUrl":…,"statsUrl":…}` on stdout once listening; exits on SIGTERM/SIGINT or when
// stdin closes. BENCH_UPSTREAM_DELAY_MS: answer each request that much later.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";

export interface UpstreamCounts {
  /** POST /v1/embeddings requests received (answered or not). */
  calls: number;
  /** Inputs those requests carried. */
  inputs: number;
  /** Inputs embedded before since the last reset: the upstream work done twice. */
  repeated: number;
}

const delayMs = Number(process.env["BENCH_UPSTREAM_DELAY_MS"] ?? 0);
const upstream = await startFakeOpenAIServer({
  recordRequests: true,
  ...(Number.isFinite(delayMs) && delayMs > 0 ? { defaultDelayMs: delayMs } : {}),
});

const seen = new Set<string>();
let counts: UpstreamCounts = { calls: 0, inputs: 0, repeated: 0 };

/** Folds the requests recorded since the last look into the counts, then forgets them. */
function tally(): UpstreamCounts {
  for (const request of upstream.requests) {
    if (request.method !== "POST" || request.path !== "/v1/embeddings") continue;
    counts.calls++;
    const input = (request.body as { input?: unknown } | undefined)?.input;
    const texts = typeof input === "string" ? [input] : Array.isArray(input) ? input : [];
    for (const text of texts) {
      const key = String(text);
      counts.inputs++;
      if (seen.has(key)) counts.repeated++;
      else seen.add(key);
    }
  }
  upstream.requests.length = 0;
  return counts;
}

const stats = createServer((req, res) => {
  if (req.method === "POST" && req.url === "/reset") {
    tally();
    seen.clear();
    counts = { calls: 0, inputs: 0, repeated: 0 };
    res.writeHead(204).end();
    return;
  }
  if (req.method === "GET" && req.url === "/stats") {
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(tally()));
    return;
  }
  res.writeHead(404).end();
});
await new Promise<void>((resolve) => stats.listen(0, "127.0.0.1", resolve));
const statsPort = (stats.address() as AddressInfo).port;
process.stdout.write(
  `${JSON.stringify({ baseUrl: upstream.baseUrl, statsUrl: `http://127.0.0.1:${statsPort}` })}\n`,
);

let closing = false;
function shutdown(): void {
  if (closing) return;
  closing = true;
  stats.close();
  void upstream.close().then(() => process.exit(0));
}
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
// The bench holds our stdin open; when it goes away (even killed), so do we.
process.stdin.once("close", shutdown);
process.stdin.resume();
