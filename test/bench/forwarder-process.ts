// The bar the service is measured against: a bare NATS→HTTP forwarder. Each request on the subject
// (in a queue group, like the service) is POSTed with undici to the upstream, and the upstream's
// body is the reply. Nothing else: no validation, routing, events or telemetry.
// Usage: forwarder-process.ts <nats-url> <subject> <upstream-url>. Prints `{}` once subscribed.
import { connect } from "@nats-io/transport-node";
import type { Msg } from "@nats-io/nats-core";
import { Agent, request } from "undici";

const [natsUrl, subject, upstreamUrl] = process.argv.slice(2);
if (!natsUrl || !subject || !upstreamUrl) {
  process.stderr.write("usage: forwarder-process.ts <nats-url> <subject> <upstream-url>\n");
  process.exit(2);
}

// A keep-alive pool as large as the service's, so both hold the same connections to the upstream.
const agent = new Agent({ keepAliveTimeout: 30_000, connections: 256 });
const headers = { "content-type": "application/json", authorization: "Bearer sk-bench" };
const failed = new TextEncoder().encode('{"error":"upstream failed"}');

async function forward(msg: Msg): Promise<void> {
  try {
    const response = await request(upstreamUrl!, {
      dispatcher: agent,
      method: "POST",
      headers,
      body: msg.data,
    });
    msg.respond(new Uint8Array(await response.body.arrayBuffer()));
  } catch {
    msg.respond(failed);
  }
}

const nc = await connect({ servers: natsUrl, name: "bench-forwarder" });
nc.subscribe(subject, {
  queue: "bench-forwarder",
  callback: (error, msg) => {
    if (!error) void forward(msg);
  },
});
await nc.flush(); // the server knows the subscription before anyone is told we are ready
process.stdout.write("{}\n");

let closing = false;
function shutdown(): void {
  if (closing) return;
  closing = true;
  void nc
    .drain()
    .then(() => agent.close())
    .finally(() => process.exit(0));
}
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
// The bench holds our stdin open; when it goes away (even killed), so do we.
process.stdin.once("close", shutdown);
process.stdin.resume();
