// The floor of NATS request/reply: a Node process that answers every request on a subject (in a
// queue group, like the service) with a fixed ChatCompletion-sized JSON body and does nothing else.
// Usage: echo-responder-process.ts <nats-url> <subject>. Prints `{"replyBytes":…}` once subscribed.
import { connect } from "@nats-io/transport-node";
import { ECHO_REPLY } from "./payloads.js";

const [natsUrl, subject] = process.argv.slice(2);
if (!natsUrl || !subject) {
  process.stderr.write("usage: echo-responder-process.ts <nats-url> <subject>\n");
  process.exit(2);
}

const reply = new TextEncoder().encode(JSON.stringify(ECHO_REPLY));
const nc = await connect({ servers: natsUrl, name: "bench-echo-responder" });
nc.subscribe(subject, {
  queue: "bench-echo",
  callback: (error, msg) => {
    if (!error) msg.respond(reply);
  },
});
await nc.flush(); // the server knows the subscription before anyone is told we are ready
process.stdout.write(`${JSON.stringify({ replyBytes: reply.length })}\n`);

let closing = false;
function shutdown(): void {
  if (closing) return;
  closing = true;
  void nc.drain().finally(() => process.exit(0));
}
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
// The bench holds our stdin open; when it goes away (even killed), so do we.
process.stdin.once("close", shutdown);
process.stdin.resume();
