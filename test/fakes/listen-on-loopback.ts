import type { Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/**
 * Listens on a random loopback port with keep-alive longer than HTTP clients' idle timeouts (the
 * client closes idle sockets first: no reuse races), and tracks sockets so that `close` ends
 * hanging requests too. Pending timers of scripted behaviors are cleared on close.
 */
export async function listenOnLoopback(
  server: Server,
  timers: Set<NodeJS.Timeout>,
): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  server.keepAliveTimeout = 30_000;
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  let closing: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}
