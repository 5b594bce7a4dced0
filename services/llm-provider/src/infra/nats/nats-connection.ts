import { connect } from "@nats-io/transport-node";
import type { ConnectionOptions, NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "pino";
import { ConfigError } from "../../config/load-config.js";
import type { Config } from "../../config/schema.js";
import { describeSecretRef, resolveSecret } from "../../config/secrets.js";

/**
 * Connects and keeps reconnecting for ever: a worker that lost NATS has nothing else to do
 * than to get it back. Connection status changes are logged.
 */
export async function connectNats(
  config: Config["nats"],
  logger: Logger,
  env = process.env,
): Promise<NatsConnection> {
  const options: ConnectionOptions = {
    servers: config.servers,
    name: config.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    pingInterval: 20_000,
    // No async stack capture: it costs CPU on every request and only adds a frame to errors.
    noAsyncTraces: true,
  };
  if (config.user !== undefined) options.user = config.user;
  if (config.password_ref) options.pass = requireSecret(config.password_ref, "nats.password_ref", env);
  if (config.token_ref) options.token = requireSecret(config.token_ref, "nats.token_ref", env);
  if (config.creds_file) {
    const { credsAuthenticator } = await import("@nats-io/nats-core");
    const { readFile } = await import("node:fs/promises");
    const creds = await readFile(config.creds_file).catch(() => {
      throw new ConfigError("secrets", [
        { field: "nats.creds_file", message: `cannot read ${config.creds_file}` },
      ]);
    });
    options.authenticator = credsAuthenticator(creds);
  }
  const nc = await connect(options);
  logger.info({ server: nc.getServer(), version: nc.info?.version }, "connected to NATS");
  watchConnection(nc, logger);
  return nc;
}

function requireSecret(
  ref: Parameters<typeof resolveSecret>[0],
  field: string,
  env: NodeJS.ProcessEnv,
): string {
  const value = resolveSecret(ref, env);
  if (value === undefined) {
    throw new ConfigError("secrets", [{ field, message: `secret ${describeSecretRef(ref)} is not set` }]);
  }
  return value;
}

export type ConnectionStatus = "connected" | "reconnecting" | "closed";

const watched = new WeakMap<NatsConnection, () => ConnectionStatus>();

/**
 * The one place that follows a connection's status: logs the changes and keeps the state the
 * health probes read — `reconnecting` from a disconnect until the client is back, `closed` once it
 * gave up or was closed. The client reconnects for ever, so `closed` only follows a fatal error or
 * the end of a shutdown. Idempotent: a connection is watched once, later calls get the same reader.
 */
export function watchConnection(nc: NatsConnection, logger: Logger): () => ConnectionStatus {
  const known = watched.get(nc);
  if (known) return known;
  let status: ConnectionStatus = nc.isClosed() ? "closed" : "connected";
  void (async () => {
    for await (const change of nc.status()) {
      if (change.type === "disconnect" || change.type === "reconnecting") {
        // The client dials again every 500 ms: warn once per outage, not per attempt.
        if (status === "connected")
          logger.warn(
            { nats_status: change.type, server: (change as { server?: string }).server },
            "NATS connection lost",
          );
        else logger.debug({ nats_status: change.type }, "NATS reconnecting");
        if (status !== "closed") status = "reconnecting";
      } else if (change.type === "reconnect") {
        status = "connected";
        logger.info({ nats_status: change.type, server: change.server }, "NATS connection restored");
      } else if (change.type === "close") {
        status = "closed";
      } else if (change.type === "error" || change.type === "ldm") {
        // Permission violations arrive here: say which subject, or they are invisible.
        const error = "error" in change ? String(change.error) : undefined;
        logger.warn({ nats_status: change.type, err: error }, "NATS status");
      }
    }
  })();
  void nc.closed().then(() => (status = "closed"));
  const read = () => status;
  watched.set(nc, read);
  return read;
}
