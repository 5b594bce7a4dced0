// What the cluster benchmarks share: a 3-node JetStream cluster with the state R3 (as in
// production), the fake upstream in its own process, a temp dir, workers started from the build,
// and one place that releases all of it in reverse order.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { parseConfig } from "../../services/llm-provider/src/config/load-config.js";
import type { ConfigInput } from "../../services/llm-provider/src/config/schema.js";
import { ensureJetStreamState } from "../../services/llm-provider/src/infra/jetstream/jetstream-state.js";
import { startNatsCluster } from "../harness/nats-cluster.js";
import type { NatsClusterHandle } from "../harness/nats-cluster.js";
import { countWorkers } from "../support/workers.js";
import { spawnNode } from "./child-process.js";
import type { ChildHandle } from "./child-process.js";
import { benchServiceConfig, serviceEnvironment, serviceNodeFlags } from "./service-config.js";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SERVICE_ENTRY = join(ROOT, "services/llm-provider/dist/main.js");

/** The bench service's configuration with every piece of state R3, as deploy/kubernetes has it. */
export function r3Config(
  servers: string,
  upstreamBaseUrl: string,
  overrides: Partial<ConfigInput> = {},
): ConfigInput {
  return {
    ...benchServiceConfig(servers, upstreamBaseUrl),
    events: { replicas: 3 },
    embedding_cache: { replicas: 3 },
    health: { replicas: 3 },
    circuit_breaker: { replicas: 3 },
    rate_limits: { replicas: 3 },
    spend: { replicas: 3 },
    idempotency: { replicas: 3 },
    jobs: { replicas: 3 },
    resumable_streams: { replicas: 3 },
    ...overrides,
  };
}

export interface ClusterBench {
  cluster: NatsClusterHandle;
  upstreamPid: number;
  upstreamBaseUrl: string;
  /** A temp dir removed at the end. */
  dir: string;
  /** The load generator's connection (every node, reconnecting for ever). */
  nc: NatsConnection;
  /** Starts a worker from the build with `configPath`; resolves once `expected` workers answer. */
  startWorker(name: string, configPath: string, expected: number): Promise<ChildHandle>;
  /** Stops what was started, last first. */
  release(): Promise<void>;
}

/** The cluster, the upstream and the state (made as `llm-provider-bootstrap` would). */
export async function startClusterBench(
  name: string,
  progress: (text: string) => void,
): Promise<ClusterBench> {
  const releases: Array<() => Promise<unknown>> = [];
  const release = async () => {
    for (let next = releases.pop(); next; next = releases.pop()) await next().catch(() => undefined);
  };
  try {
    progress("starting a 3-node JetStream cluster and the fake upstream");
    const cluster = await startNatsCluster(3);
    releases.push(() => cluster.stop());
    const upstream = spawnNode(
      "fake upstream",
      ["--import", "tsx", "--conditions=source", join(ROOT, "test/bench/fake-upstream-process.ts")],
      { cwd: ROOT },
    );
    releases.push(() => upstream.stop());
    const { baseUrl } = JSON.parse(await upstream.firstLine) as { baseUrl: string };
    const dir = await mkdtemp(join(tmpdir(), `llm-provider-bench-${name}-`));
    releases.push(() => rm(dir, { recursive: true, force: true }));
    const nc = await connect({ servers: cluster.urls, name: `bench-${name}-load`, maxReconnectAttempts: -1 });
    releases.push(() => nc.close());
    await ensureJetStreamState(nc, parseConfig(r3Config(cluster.urls[0]!, baseUrl), "bench"));
    return {
      cluster,
      upstreamPid: upstream.pid,
      upstreamBaseUrl: baseUrl,
      dir,
      nc,
      async startWorker(workerName, configPath, expected) {
        const worker = spawnNode(workerName, [...serviceNodeFlags(), SERVICE_ENTRY, "--config", configPath], {
          cwd: ROOT,
          env: serviceEnvironment(),
        });
        releases.push(() => worker.stop());
        const deadline = Date.now() + 20_000;
        for (;;) {
          if (worker.hasExited()) throw new Error(`${workerName} exited:\n${worker.outputTail()}`);
          const count = await countWorkers(nc);
          if (count >= expected) return worker;
          if (count === 0) await sleep(100); // none subscribed yet: "no responders" comes back at once
          if (Date.now() > deadline)
            throw new Error(`${workerName} did not answer $SRV.PING:\n${worker.outputTail()}`);
        }
      },
      release,
    };
  } catch (error) {
    await release();
    throw error;
  }
}
