// The fake OpenAI upstream in a process of its own, so its CPU is not counted as the service's.
// Prints `{"port":…,"baseUrl":…}` on stdout once listening; exits on SIGTERM/SIGINT or when stdin closes.
// BENCH_UPSTREAM_DELAY_MS: answer each request that much later, so that requests stay in flight.
import { startFakeOpenAIServer } from "../fakes/openai-server.js";

const delayMs = Number(process.env["BENCH_UPSTREAM_DELAY_MS"] ?? 0);
const server = await startFakeOpenAIServer({
  recordRequests: false,
  ...(Number.isFinite(delayMs) && delayMs > 0 ? { defaultDelayMs: delayMs } : {}),
});
process.stdout.write(`${JSON.stringify({ port: server.port, baseUrl: server.baseUrl })}\n`);

let closing = false;
function shutdown(): void {
  if (closing) return;
  closing = true;
  void server.close().then(() => process.exit(0));
}
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
// The bench holds our stdin open; when it goes away (even killed), so do we.
process.stdin.once("close", shutdown);
process.stdin.resume();
