#!/usr/bin/env node
import { startApp } from "./app.js";
import { configFromArgv } from "./config/config-from-argv.js";
import { ConfigError } from "./config/load-config.js";
import { describeConfig } from "./config/redact-config.js";
import { createLogger } from "./infra/logging/logger.js";
import { startOpenTelemetry } from "./infra/telemetry/open-telemetry.js";
import { startProbeServer } from "./infra/http/probe-server.js";

/** Process entry: config from `--config` or `LLM_PROVIDER_CONFIG`, signals, exit codes. */
async function main(): Promise<void> {
  const config = configFromArgv("llm-provider");
  const logger = createLogger(config.log_level);
  logger.info({ config: describeConfig(config) }, "configuration loaded");
  const telemetry = startOpenTelemetry();
  if (telemetry) logger.info("OpenTelemetry export on (OTEL_* environment)");
  let app;
  try {
    app = await startApp({ config, logger });
  } catch (error) {
    logger.fatal({ err: error instanceof Error ? error.message : String(error) }, "start-up failed");
    process.exit(error instanceof ConfigError ? 78 : 1);
  }
  const running = app;
  const probes = config.probes.enabled
    ? await startProbeServer({
        host: config.probes.host,
        port: config.probes.port,
        liveness: () => running.liveness(),
        readiness: () => running.readiness(),
        logger,
      }).catch((error: unknown) => {
        logger.fatal({ err: String(error) }, "health probes could not listen");
        process.exit(1);
      })
    : undefined;
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutdown requested");
    // Readiness reports `draining` from here on; the probes go last, once everything is stopped.
    running
      .stop()
      .then(() => telemetry?.shutdown())
      .then(() => probes?.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: String(error) }, "shutdown failed");
          process.exit(1);
        },
      );
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
  // The connection only closes by itself on a fatal error (it reconnects for ever otherwise);
  // during a shutdown the drain closes it and `shutdown` decides the exit.
  void running.nc.closed().then((error) => {
    if (stopping) return;
    logger.fatal({ err: error?.message }, "NATS connection closed");
    process.exit(1);
  });
}

await main();
