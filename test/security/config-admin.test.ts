// The admin subjects (llm-provider.admin.…) under the shipped accounts (deploy/nats/accounts.conf):
// the config-admin user applies a configuration through a worker; every other identity — callers
// of every context, event readers, operators, the bootstrap user and the worker's own — is refused
// by the server, and a caller cannot reach them through its own imports either.
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { createConfigAdminClient, SUBJECTS } from "@llm-provider/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify as toYaml } from "yaml";
import { ensureKvBucket } from "../../services/llm-provider/src/infra/kv/ensure-kv-bucket.js";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { TEST_API_KEY } from "../support/service.js";
import { until } from "../support/until.js";
import {
  accountsServiceConfig,
  connectAs,
  describeError,
  startAccountsServer,
  startPolicyGateway,
  startWorker,
} from "./accounts.js";
import type { Role, RunningWorker } from "./accounts.js";

let nats: NatsServerHandle;
let upstream: FakeOpenAIServer;
let worker: RunningWorker;
let gateway: Awaited<ReturnType<typeof startPolicyGateway>>;
const closers: (() => Promise<void>)[] = [];

const liveConfig = () =>
  accountsServiceConfig(nats.url, upstream.baseUrl, { live_config: { enabled: true, poll_interval_ms: 50 } });

beforeAll(async () => {
  nats = await startAccountsServer();
  upstream = await startFakeOpenAIServer({ apiKey: TEST_API_KEY });
  gateway = await startPolicyGateway(nats);
  worker = await startWorker(nats, liveConfig());
});

afterAll(async () => {
  for (const close of closers) await close();
  await worker?.app.stop(1_000);
  await gateway?.close();
  await upstream?.close();
  await nats?.stop();
});

async function as(role: Role) {
  const connection = await connectAs(nats, role);
  closers.push(() => connection.nc.close());
  return connection;
}

describe("admin subjects under the shipped accounts", () => {
  it("the config admin applies a configuration through a worker, which takes it", async () => {
    const { nc } = await as("configAdmin");
    // The bucket is the admin's to create (the worker holds no JetStream administration rights).
    await ensureKvBucket(nc, { bucket: "llm_provider_config", replicas: 1 });
    const next = liveConfig();
    next.models[0]!.cost = { input_per_million: 4, output_per_million: 10 };
    const reply = await createConfigAdminClient(nc).applyConfig({ config: toYaml(next) });
    expect(reply.revision).toBeGreaterThan(0);
    await until("worker on the applied revision", () => worker.app.configRevision() === reply.revision);
    const stored = await new Kvm(jetstream(nc, { checkAPI: false })).open("llm_provider_config");
    expect((await stored.get("config"))?.revision).toBe(reply.revision);
  });

  it.each(["query", "memory", "ingest", "ingestBatch", "analytics", "ops", "bootstrap", "worker"] as const)(
    "%s may not send to llm-provider.admin.>",
    async (role) => {
      const { nc, violations } = await as(role);
      const before = worker.app.configRevision();
      const sent = await nc
        .request(SUBJECTS.adminSetModelAvailable, JSON.stringify({ model: "model-0", available: false }), {
          timeout: 2_000,
        })
        .then(
          () => "answered",
          (error: unknown) => describeError(error),
        );
      expect(sent).not.toBe("answered");
      await until(`${role} refused publishing ${SUBJECTS.adminSetModelAvailable}`, () =>
        violations.some((text) => text.includes(`Publish to "${SUBJECTS.adminSetModelAvailable}"`)),
      );
      expect(worker.app.configRevision()).toBe(before);
      expect(worker.app.isModelAvailable("model-0")).toBe(true);
    },
  );

  it("a caller cannot reach them under its own request prefixes either", async () => {
    const { nc } = await as("query");
    const before = worker.app.configRevision();
    // Allowed to publish llm-provider.qry.>, imported as llm-provider.ctx.query.qry.>: no worker
    // serves an admin action there (nobody answers; across an import that is a timeout).
    const sent = await nc
      .request(
        "llm-provider.qry.admin.set_model_available",
        JSON.stringify({ model: "model-0", available: false }),
        { timeout: 1_000 },
      )
      .then(
        () => "answered",
        (error: unknown) => describeError(error),
      );
    expect(sent).toMatch(/timeout|no responders/i);
    expect(worker.app.configRevision()).toBe(before);
    expect(worker.app.isModelAvailable("model-0")).toBe(true);
  });

  it("the worker writes the configuration key only, not other keys of its bucket", async () => {
    const { nc, violations } = await as("worker");
    nc.publish("$KV.llm_provider_config.other", "{}");
    await nc.flush();
    await until("worker refused another key", () =>
      violations.some((text) => text.includes('Publish to "$KV.llm_provider_config.other"')),
    );
  });
});
