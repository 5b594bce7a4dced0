// How many llm-provider workers answer `$SRV.PING` right now.
import type { NatsConnection } from "@nats-io/nats-core";
import { SERVICE_NAME } from "@llm-provider/contracts";

/** Workers that answered within `maxWaitMs`; 0 when none subscribes ("no responders" at once). */
export async function countWorkers(nc: NatsConnection, maxWaitMs = 300): Promise<number> {
  let count = 0;
  try {
    const replies = await nc.requestMany(`$SRV.PING.${SERVICE_NAME}`, "", { maxWait: maxWaitMs });
    for await (const _reply of replies) count++;
  } catch {
    return 0;
  }
  return count;
}
