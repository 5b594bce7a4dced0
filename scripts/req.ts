/**
 * `nats req` for machines without the NATS CLI: sends one request with a raw JSON body and
 * prints the reply's headers and body.  npm run req -- <subject> '<json>' [timeout-ms]
 */
import { connect } from "@nats-io/transport-node";

const [subject, body = "", timeoutArg = "60000"] = process.argv.slice(2);
if (!subject) {
  process.stderr.write("usage: npm run req -- <subject> '<json body>' [timeout-ms]\n");
  process.exit(2);
}
const nc = await connect({ servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222" });
try {
  const reply = await nc.request(subject, body, { timeout: Number(timeoutArg) });
  for (const [name, values] of reply.headers ?? []) process.stdout.write(`${name}: ${values.join(", ")}\n`);
  process.stdout.write(`${reply.string()}\n`);
} catch (error) {
  process.stderr.write(`request failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  await nc.close();
}
