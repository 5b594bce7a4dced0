import { createServer } from "node:http";
import type { Logger } from "pino";

/** Why a probe fails, or undefined when it passes. */
export type ProbeCheck = () => string | undefined;

export interface ProbeServer {
  /** The bound port (useful with port 0). */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Liveness and readiness over HTTP for orchestrators: `GET /livez` and `GET /readyz` answer 200
 * `{"status":"live"|"ready"}` or 503 `{"status":"not_live"|"not_ready","reason":…}`. Nothing
 * else is served (404; 405 for methods other than GET and HEAD). Callers never come this way —
 * requests arrive over NATS — so these say only whether this worker should run and take work.
 */
export async function startProbeServer(options: {
  host: string;
  port: number;
  liveness: ProbeCheck;
  readiness: ProbeCheck;
  logger: Logger;
}): Promise<ProbeServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const probe = path === "/livez" ? "live" : path === "/readyz" ? "ready" : undefined;
    if (!probe) {
      res.writeHead(404, { "content-type": "application/json" }).end('{"status":"not_found"}');
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    const reason = probe === "live" ? options.liveness() : options.readiness();
    const body = JSON.stringify(
      reason === undefined ? { status: probe } : { status: `not_${probe}`, reason },
    );
    res
      .writeHead(reason === undefined ? 200 : 503, {
        "content-type": "application/json",
        "cache-control": "no-store",
      })
      .end(req.method === "HEAD" ? undefined : body);
  });
  // A probe connection must not hold the process at shutdown.
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as { port: number };
  options.logger.info({ host: options.host, port }, "health probes listening (/livez, /readyz)");
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
