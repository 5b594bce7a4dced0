// A NATS request as the load loops send it: a reply carrying the micro service's error header is
// a failed request.
import type { NatsConnection } from "@nats-io/nats-core";
import type { SendRequest } from "./closed-loop.js";

const SERVICE_ERROR_HEADER = "Nats-Service-Error-Code";
const REQUEST_TIMEOUT_MS = 5_000;

export function natsSender(nc: NatsConnection, subject: string, body: Uint8Array): SendRequest {
  return async () => {
    const reply = await nc.request(subject, body, { timeout: REQUEST_TIMEOUT_MS });
    const code = reply.headers?.get(SERVICE_ERROR_HEADER);
    if (code) throw new Error(`service error ${code}: ${reply.string().slice(0, 300)}`);
  };
}
