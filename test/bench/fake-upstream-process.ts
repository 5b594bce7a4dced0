// The fake OpenAI upstream in a process of its own, so its CPU is not counted as the service's.
// Prints `{"port":…,"baseUrl":…}` on stdout once listening; exits on SIGTERM/SIGINT or when stdin closes.
import { startFakeOpenAIServer } from "../fakes/openai-server.js";

const server = await startFakeOpenAIServer({ recordRequests: false });
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
