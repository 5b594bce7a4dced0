// A JetStream cluster of real `nats-server` processes on loopback, for the failover tests: each
// node is a `startNatsServer` with its own store dir, a server name and routes to the others.
import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager, StorageType } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { chooseLoopbackPort, isAddressInUse } from "./loopback-port.js";
import { startNatsServer } from "./nats-server.js";
import type { NatsServerHandle } from "./nats-server.js";

export interface NatsClusterHandle {
  nodes: NatsServerHandle[];
  /** `nats://127.0.0.1:PORT` of every node (a node keeps its URL across `restart`). */
  urls: string[];
  /** `server_name` of node i (`n0`, `n1`, …). */
  names: string[];
  /**
   * Stops node i: SIGKILL (default, a crash) or SIGTERM (a clean shutdown). Its ports and store
   * dir are kept for `restart(i)`.
   */
  kill(index: number, signal?: "SIGKILL" | "SIGTERM"): Promise<void>;
  /**
   * Starts node i again on the same client and cluster ports with the same store dir (stopping
   * it first if it runs); resolves once it accepts connections — not yet once it has caught up,
   * for that see `waitForHealthy`.
   */
  restart(index: number): Promise<void>;
  /** Index of the node that leads `stream` now (`stream info` → `cluster.leader` → server name). */
  streamLeader(stream: string): Promise<number>;
  /**
   * Waits until `$JS.API.INFO` answers: in a cluster only the JetStream meta leader answers it (a
   * leaderless cluster answers "not available"), so this is "a meta leader is elected".
   */
  waitForJetStream(timeoutMs?: number): Promise<void>;
  /**
   * Waits until every node is back in the cluster and each of `streams` has a leader and all
   * its replicas current — after a restart, before the next node may be lost.
   */
  waitForHealthy(streams: string[], timeoutMs?: number): Promise<void>;
  /** Stops every node and removes their dirs. Idempotent. */
  stop(): Promise<void>;
}

/** Attempts at starting the nodes when a route port was taken between choosing and binding it. */
const START_ATTEMPTS = 3;

/** Starts `size` nodes routed to each other; each is a `startNatsServer` (JetStream, own temp dir). */
async function startNodes(size: number, names: string[]): Promise<NatsServerHandle[]> {
  for (let attempt = 1; ; attempt++) {
    const routePorts = await Promise.all(Array.from({ length: size }, chooseLoopbackPort));
    const routes = routePorts.map((port) => `nats-route://127.0.0.1:${port}`);
    const nodes: NatsServerHandle[] = [];
    try {
      for (let index = 0; index < size; index++) {
        nodes.push(
          await startNatsServer({
            extraConfig: [
              `server_name: ${names[index]}`,
              `cluster { name: llm-test, listen: 127.0.0.1:${routePorts[index]}, routes: ${JSON.stringify(
                routes.filter((_route, other) => other !== index),
              )} }`,
            ].join("\n"),
          }),
        );
      }
      return nodes;
    } catch (error) {
      await Promise.all(nodes.map((node) => node.stop()));
      // Another process bound a route port after it was chosen: choose new ones.
      if (attempt < START_ATTEMPTS && isAddressInUse(error, routePorts)) continue;
      throw error;
    }
  }
}

export async function startNatsCluster(size = 3): Promise<NatsClusterHandle> {
  const names = Array.from({ length: size }, (_unused, index) => `n${index}`);
  const nodes = await startNodes(size, names);
  const urls = nodes.map((node) => node.url);
  const node = (index: number): NatsServerHandle => {
    const found = nodes[index];
    if (!found) throw new Error(`no node ${index} in a cluster of ${nodes.length}`);
    return found;
  };

  const handle: NatsClusterHandle = {
    nodes,
    urls,
    names,
    kill: (index, signal = "SIGKILL") => node(index).kill(signal),
    restart: (index) => node(index).restart(),
    streamLeader: (stream) => streamLeaderIndex(urls, names, stream),
    waitForJetStream: (timeoutMs) => waitForJetStream(urls, timeoutMs),
    waitForHealthy: (streams, timeoutMs) => waitForHealthy(urls, streams, timeoutMs),
    async stop() {
      await Promise.all(nodes.map((node) => node.stop()));
    },
  };

  try {
    await handle.waitForJetStream();
    await waitForEveryPeer(urls, size);
  } catch (error) {
    await handle.stop();
    throw error;
  }
  return handle;
}

/** Index in `names` of the node that leads `stream` now (`stream info` → `cluster.leader`). */
async function streamLeaderIndex(urls: string[], names: string[], stream: string): Promise<number> {
  const nc = await connect({ servers: urls });
  try {
    // Short: while a stream has no leader nobody answers, and callers poll through elections.
    const jsm = await jetstreamManager(nc, { timeout: 1_000 });
    const leader = (await jsm.streams.info(stream)).cluster?.leader;
    const index = names.indexOf(leader ?? "");
    if (index < 0) throw new Error(`stream ${stream} has no leader (${leader ?? "none"})`);
    return index;
  } finally {
    await nc.close();
  }
}

async function waitForJetStream(urls: string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const nc = await connect({ servers: urls }).catch((error: unknown) => {
      lastError = error;
      return undefined;
    });
    if (nc) {
      try {
        const jsm = await jetstreamManager(nc, { timeout: 2_000 });
        await jsm.getAccountInfo();
        return;
      } catch (error) {
        lastError = error;
      } finally {
        await nc.close();
      }
    }
    await sleep(200);
  }
  throw new Error(`JetStream not available in the cluster within ${timeoutMs} ms: ${String(lastError)}`);
}

async function waitForHealthy(urls: string[], streams: string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let problem = "not checked yet";
  while (Date.now() < deadline) {
    problem = await clusterProblem(urls, streams);
    if (!problem) return;
    await sleep(250);
  }
  throw new Error(`cluster not healthy within ${timeoutMs} ms: ${problem}`);
}

/** What is still wrong, or "" when every node answers JetStream and every stream is whole. */
async function clusterProblem(urls: string[], streams: string[]): Promise<string> {
  for (const url of urls) {
    // Through each node on its own: a restarted node must serve the JetStream API itself.
    const nc = await connect({ servers: url, reconnect: false }).catch(() => undefined);
    if (!nc) return `${url} refuses connections`;
    try {
      const jsm = await jetstreamManager(nc, { timeout: 2_000 });
      await jsm.getAccountInfo();
      for (const stream of streams) {
        const cluster = (await jsm.streams.info(stream)).cluster;
        if (!cluster?.leader) return `${stream} has no leader`;
        const lagging = (cluster.replicas ?? []).filter((replica) => !replica.current || replica.offline);
        if (lagging.length > 0)
          return `${stream} replicas not current: ${lagging.map((r) => r.name).join(", ")}`;
      }
    } catch (error) {
      return `${url}: ${String(error)}`;
    } finally {
      await nc.close();
    }
  }
  return "";
}

/**
 * A meta leader may be elected before every peer has joined the meta group: R`size` state then
 * fails with "no suitable peers for placement". Waits until an R`size` stream can be placed.
 */
async function waitForEveryPeer(urls: string[], size: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const nc = await connect({ servers: urls });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 2_000 });
    let lastError: unknown;
    while (Date.now() < deadline) {
      try {
        const name = "HARNESS_PLACEMENT_PROBE";
        await jsm.streams.add({
          name,
          subjects: ["harness.placement.probe"],
          num_replicas: size,
          storage: StorageType.Memory,
        });
        await jsm.streams.delete(name);
        return;
      } catch (error) {
        lastError = error;
        await sleep(200);
      }
    }
    throw new Error(`an R${size} stream could not be placed within ${timeoutMs} ms: ${String(lastError)}`);
  } finally {
    await nc.close();
  }
}
