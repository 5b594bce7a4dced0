// The shipped account layout (deploy/nats/accounts.conf) on a real nats-server, with a connection
// per role, the service started as its worker user after a bootstrap as the bootstrap user, and a
// Policy Gateway stand-in in the POLICY account.
import { readFileSync } from "node:fs";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import type { ConnectionOptions, NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { POLICY_GATEWAY_SUBJECT } from "@llm-provider/contracts";
import type { PolicyDecision, PolicyEvaluationRequest } from "@llm-provider/contracts";
import { startApp } from "../../services/llm-provider/src/app.js";
import type { App } from "../../services/llm-provider/src/app.js";
import { parseConfig } from "../../services/llm-provider/src/config/load-config.js";
import type { Config, ConfigInput } from "../../services/llm-provider/src/config/schema.js";
import { ensureJetStreamState } from "../../services/llm-provider/src/infra/jetstream/jetstream-state.js";
import { createLogger } from "../../services/llm-provider/src/infra/logging/logger.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { embedderModel, TEST_API_KEY, testConfig } from "../support/service.js";

export const ACCOUNTS_CONF = fileURLToPath(new URL("../../deploy/nats/accounts.conf", import.meta.url));

/** Every password the shipped configuration reads from the server's environment. */
export const PASSWORDS = {
  LLM_PROVIDER_NATS_PASSWORD: "worker-secret",
  LLM_BOOTSTRAP_NATS_PASSWORD: "bootstrap-secret",
  LLM_CONFIG_ADMIN_NATS_PASSWORD: "config-admin-secret",
  QUERY_NATS_PASSWORD: "query-secret",
  MEMORY_NATS_PASSWORD: "memory-secret",
  INGEST_NATS_PASSWORD: "ingest-secret",
  INGEST_BATCH_NATS_PASSWORD: "ingest-batch-secret",
  ANALYTICS_NATS_PASSWORD: "analytics-secret",
  OPS_NATS_PASSWORD: "ops-secret",
  POLICY_GATEWAY_NATS_PASSWORD: "policy-secret",
} as const;

/** The users of the shipped layout, with their passwords and the inbox prefix their permissions allow. */
export const ROLES = {
  worker: { user: "llm-provider", pass: PASSWORDS.LLM_PROVIDER_NATS_PASSWORD },
  bootstrap: { user: "llm-provider-bootstrap", pass: PASSWORDS.LLM_BOOTSTRAP_NATS_PASSWORD },
  configAdmin: { user: "llm-provider-config-admin", pass: PASSWORDS.LLM_CONFIG_ADMIN_NATS_PASSWORD },
  query: { user: "query", pass: PASSWORDS.QUERY_NATS_PASSWORD },
  memory: { user: "memory", pass: PASSWORDS.MEMORY_NATS_PASSWORD },
  ingest: { user: "ingest", pass: PASSWORDS.INGEST_NATS_PASSWORD, inboxPrefix: "_INBOX_ingest" },
  ingestBatch: {
    user: "ingest-batch",
    pass: PASSWORDS.INGEST_BATCH_NATS_PASSWORD,
    inboxPrefix: "_INBOX_ingest_batch",
  },
  analytics: { user: "analytics", pass: PASSWORDS.ANALYTICS_NATS_PASSWORD },
  ops: { user: "ops", pass: PASSWORDS.OPS_NATS_PASSWORD },
  policy: { user: "policy-gateway", pass: PASSWORDS.POLICY_GATEWAY_NATS_PASSWORD },
} as const;
export type Role = keyof typeof ROLES;

export const EVENT_STREAM = "LLM_PROVIDER_EVENTS";
/** The API prefix under which ANALYTICS imports the event consumer's JetStream API. */
export const EVENTS_API_PREFIX = "llm-provider.js";

/** A nats-server with JetStream and the shipped accounts (ports and paths adapted by the harness). */
export async function startAccountsServer(): Promise<NatsServerHandle> {
  Object.assign(process.env, PASSWORDS); // the server reads them from its environment
  // nats-server 2.9 resolves `include` relative to the including file only: inline the text.
  return await startNatsServer({ extraConfig: readFileSync(ACCOUNTS_CONF, "utf8") });
}

/** A connection as one of the shipped users; its permission errors are collected in `violations`. */
export async function connectAs(
  server: NatsServerHandle,
  role: Role,
  options: Partial<ConnectionOptions> = {},
): Promise<{ nc: NatsConnection; violations: string[] }> {
  const { user, pass, inboxPrefix }: { user: string; pass: string; inboxPrefix?: string } = ROLES[role];
  const nc = await connect({
    servers: server.url,
    user,
    pass,
    ...(inboxPrefix ? { inboxPrefix } : {}),
    ...options,
  });
  const violations: string[] = [];
  void (async () => {
    for await (const status of nc.status())
      if (status.type === "error") violations.push(String(status.error));
  })();
  return { nc, violations };
}

/** The service's production configuration on the test server, with one embedding model. */
export function accountsServiceConfig(
  natsUrl: string,
  upstreamUrl: string,
  overrides: Partial<ConfigInput> = {},
) {
  const config = testConfig(natsUrl, [upstreamUrl], {
    environment: "production",
    nats: { servers: natsUrl, user: ROLES.worker.user, password_ref: "env:LLM_PROVIDER_NATS_PASSWORD" },
    policy_gateway: { bypass: false, subject: POLICY_GATEWAY_SUBJECT, timeout_ms: 2_000 },
    callers: {
      contexts: { query: {}, memory: { rpm: 1_000 }, ingest: {} },
    },
    events: { consumers: [{ name: "analytics" }] },
    ...overrides,
  });
  config.models.push(embedderModel({ cost: { input_per_million: 0.02, output_per_million: 0 } }));
  return config;
}

/** Creates the stream, the buckets and the event consumers as `llm-provider-bootstrap` does. */
export async function bootstrap(server: NatsServerHandle, config: Config): Promise<void> {
  const { nc } = await connectAs(server, "bootstrap");
  try {
    await ensureJetStreamState(nc, config);
  } finally {
    await nc.close();
  }
}

export interface RunningWorker {
  app: App;
  config: Config;
  /** Every line the worker logged. */
  logs: string[];
}

/** The service as its worker user (bootstrapped first), with its log captured. */
export async function startWorker(
  server: NatsServerHandle,
  configInput: ConfigInput,
): Promise<RunningWorker> {
  const config = parseConfig(configInput, "security test");
  await bootstrap(server, config);
  const logs: string[] = [];
  const sink = new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      logs.push(chunk.toString());
      done();
    },
  });
  const app = await startApp({
    config,
    env: { ...PASSWORDS, TEST_OPENAI_KEY: TEST_API_KEY },
    logger: createLogger("info", sink),
  });
  return { app, config, logs };
}

/** The Policy Gateway in its own account: records what it is asked and answers as `decide` says. */
export async function startPolicyGateway(
  server: NatsServerHandle,
  decide: (request: PolicyEvaluationRequest) => PolicyDecision = () => ({ decision: "allow" }),
): Promise<{ asked: PolicyEvaluationRequest[]; close(): Promise<void> }> {
  const { nc } = await connectAs(server, "policy");
  const asked: PolicyEvaluationRequest[] = [];
  nc.subscribe(POLICY_GATEWAY_SUBJECT, {
    callback: (_error, msg) => {
      const request = msg.json<PolicyEvaluationRequest>();
      asked.push(request);
      msg.respond(JSON.stringify(decide(request)));
    },
  });
  await nc.flush();
  return { asked, close: () => nc.close() };
}

/** An error and its cause as text: nats.js wraps permission and no-responders errors. */
export function describeError(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : "";
  return `${String(error)}${cause}`;
}
