#!/usr/bin/env node
import { configFromArgv } from "./config/config-from-argv.js";
import { createLogger } from "./infra/logging/logger.js";
import { ensureJetStreamState } from "./infra/jetstream/jetstream-state.js";
import { connectNats } from "./infra/nats/nats-connection.js";

/**
 * `llm-provider-bootstrap --config <file>`: creates the event stream and the KV buckets with the
 * configured replicas (or reshapes existing ones), then exits. Idempotent; workers do the same at
 * start, so this is for rollouts that want state in place (and R3 placed) before any worker runs.
 */
const config = configFromArgv("llm-provider-bootstrap");
const logger = createLogger(config.log_level);
try {
  const nc = await connectNats(config.nats, logger);
  const resources = await ensureJetStreamState(nc, config);
  for (const resource of resources)
    logger.info(resource, `${resource.kind} ${resource.name}: ${resource.outcome}`);
  await nc.drain();
  process.exit(0);
} catch (error) {
  logger.fatal({ err: error instanceof Error ? error.message : String(error) }, "bootstrap failed");
  process.exit(1);
}
