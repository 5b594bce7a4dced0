// Waiting for a service process the bench started: it is ready once it answers $SRV.PING (it is
// connected and subscribed; before that, "no responders" comes back at once).
import { setTimeout as sleep } from "node:timers/promises";
import type { NatsConnection } from "@nats-io/nats-core";
import { SERVICE_NAME } from "@llm-provider/contracts";
import type { ChildHandle } from "./child-process.js";

const READY_TIMEOUT_MS = 20_000;

export async function waitForService(nc: NatsConnection, service: ChildHandle): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (service.hasExited())
      throw new Error(`the service exited during start-up. Output:\n${service.outputTail()}`);
    try {
      await nc.request(`$SRV.PING.${SERVICE_NAME}`, "", { timeout: 500 });
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(
    `the service did not answer $SRV.PING within ${READY_TIMEOUT_MS} ms. Output:\n${service.outputTail()}`,
  );
}
