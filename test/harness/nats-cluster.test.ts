// Proves the cluster harness itself: three real nats-servers routed into one JetStream cluster on
// loopback, an R3 stream whose leader can be found and killed, a node restarted on its own ports
// and store, and a stop that leaves no process and no directory behind.
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNatsCluster, type NatsClusterHandle } from "./nats-cluster.js";
import { isProcessAlive, pathExists } from "../support/processes.js";

const STREAM = "HARNESS_R3";

/** Polls until `read` returns a value other than `previous` (it throws while there is none). */
async function changedFrom<T>(previous: T, read: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await read();
      if (value !== previous) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    await sleep(200);
  }
  throw new Error(`still ${String(previous)} after ${timeoutMs} ms (last: ${String(last)})`);
}

/** Publishes until the stream takes it: during a leader election publishes time out or fail. */
async function publishUntilStored(nc: NatsConnection, msgID: string): Promise<{ duplicate: boolean }> {
  const js = jetstream(nc, { timeout: 2_000 });
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      return await js.publish(`harness.r3.${msgID}`, msgID, { msgID });
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(200);
    }
  }
}

describe("nats-cluster harness", () => {
  let cluster: NatsClusterHandle;
  let nc: NatsConnection;

  beforeAll(async () => {
    cluster = await startNatsCluster(3);
    nc = await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  });

  afterAll(async () => {
    await nc?.close();
    await cluster?.stop();
  });

  it("starts three named nodes on loopback, routed into one JetStream cluster", async () => {
    expect(cluster.urls).toHaveLength(3);
    for (const url of cluster.urls) expect(url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
    expect(new Set(cluster.urls).size).toBe(3);
    expect(cluster.names).toEqual(["n0", "n1", "n2"]);
    expect(new Set(cluster.nodes.map((node) => node.storeDir)).size).toBe(3);
    // Through each node on its own: every one is in the cluster and reaches the meta leader.
    for (const [index, url] of cluster.urls.entries()) {
      const direct = await connect({ servers: url, reconnect: false });
      try {
        expect(direct.info).toMatchObject({ server_name: cluster.names[index], cluster: "llm-test" });
        await (await jetstreamManager(direct)).getAccountInfo(); // rejects without a meta leader
      } finally {
        await direct.close();
      }
    }
    // Three replicas can only be placed when all three nodes are routed to each other.
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.add({ name: STREAM, subjects: ["harness.r3.>"], num_replicas: 3 });
    expect(info.config.num_replicas).toBe(3);
    expect(cluster.names).toContain(info.cluster?.leader);
    expect(info.cluster?.replicas ?? []).toHaveLength(2);
  });

  it("finds the stream leader, survives its SIGKILL, and restarts it on the same ports and store", async () => {
    expect(await publishUntilStored(nc, "before")).toMatchObject({ duplicate: false });
    const leader = await cluster.streamLeader(STREAM);
    const info = await (await jetstreamManager(nc)).streams.info(STREAM);
    expect(cluster.names[leader]).toBe(info.cluster?.leader);

    const killedPid = cluster.nodes[leader]!.pid;
    await cluster.kill(leader);
    expect(isProcessAlive(killedPid)).toBe(false);
    const newLeader = await changedFrom(leader, () => cluster.streamLeader(STREAM));
    expect(newLeader).not.toBe(leader);
    // The new leader has the message stored before the kill: a retry with its id is a duplicate.
    expect(await publishUntilStored(nc, "before")).toMatchObject({ duplicate: true });
    expect(await publishUntilStored(nc, "after")).toMatchObject({ duplicate: false });

    const url = cluster.urls[leader];
    await cluster.restart(leader);
    expect(cluster.urls[leader]).toBe(url);
    expect(cluster.nodes[leader]!.pid).not.toBe(killedPid);
    await cluster.waitForHealthy([STREAM]);
    // The restarted node kept its store: it serves the stream as a current replica again.
    const direct = await connect({ servers: url!, reconnect: false });
    try {
      const state = (await (await jetstreamManager(direct)).streams.info(STREAM)).state;
      expect(state.messages).toBe(2);
    } finally {
      await direct.close();
    }
  }, 60_000);

  it("kill(i, SIGTERM) shuts a node down cleanly; the others keep JetStream", async () => {
    const pid = cluster.nodes[2]!.pid;
    await cluster.kill(2, "SIGTERM");
    expect(isProcessAlive(pid)).toBe(false);
    expect(await publishUntilStored(nc, "two-of-three")).toMatchObject({ duplicate: false });
    await cluster.restart(2);
    await cluster.waitForHealthy([STREAM]);
  }, 60_000);

  it("stop() ends every node and removes every directory; a second stop() is a no-op", async () => {
    await nc.close();
    const pids = cluster.nodes.map((node) => node.pid);
    const dirs = cluster.nodes.map((node) => dirname(node.storeDir));
    for (const dir of dirs) expect(await pathExists(dir)).toBe(true);
    await cluster.stop();
    for (const pid of pids) expect(isProcessAlive(pid)).toBe(false);
    for (const dir of dirs) expect(await pathExists(dir)).toBe(false);
    await cluster.stop();
  });
});
