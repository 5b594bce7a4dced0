import type { Msg, NatsConnection } from "@nats-io/nats-core";
import { SUBJECTS } from "./subjects.js";
import {
  ApplyConfigSchema,
  ConfigAdminReplySchema,
  DiffConfigSchema,
  SetModelAvailableSchema,
  SetProviderActiveSchema,
} from "./admin.js";
import type {
  ApplyConfig,
  ConfigAdminReply,
  DiffConfig,
  SetModelAvailable,
  SetProviderActive,
} from "./admin.js";
import { decodeReply, encodeRequest, toTransportError } from "./client.js";
import { parseRequest } from "./validation.js";

/** A validation and a KV write: longer than a query, far shorter than an answer. */
const DEFAULT_ADMIN_TIMEOUT_MS = 15_000;

/** The live configuration's admin requests; the connection must be the config-admin NATS identity. */
export interface ConfigAdminClient {
  applyConfig(request: ApplyConfig): Promise<ConfigAdminReply>;
  diffConfig(request: DiffConfig): Promise<ConfigAdminReply>;
  setProviderActive(request: SetProviderActive): Promise<ConfigAdminReply>;
  setModelAvailable(request: SetModelAvailable): Promise<ConfigAdminReply>;
}

export function createConfigAdminClient(
  nc: NatsConnection,
  options: { timeoutMs?: number } = {},
): ConfigAdminClient {
  const timeoutMs = options.timeoutMs ?? DEFAULT_ADMIN_TIMEOUT_MS;
  const call = async (subject: string, body: unknown): Promise<ConfigAdminReply> => {
    const payload = encodeRequest(nc, subject, body);
    let reply: Msg;
    try {
      reply = await nc.request(subject, payload, { timeout: timeoutMs });
    } catch (error) {
      throw toTransportError(subject, timeoutMs, error);
    }
    return decodeReply(reply, ConfigAdminReplySchema);
  };
  return {
    applyConfig: (request) => call(SUBJECTS.adminApplyConfig, parseRequest(ApplyConfigSchema, request)),
    diffConfig: (request) => call(SUBJECTS.adminDiffConfig, parseRequest(DiffConfigSchema, request)),
    setProviderActive: (request) =>
      call(SUBJECTS.adminSetProviderActive, parseRequest(SetProviderActiveSchema, request)),
    setModelAvailable: (request) =>
      call(SUBJECTS.adminSetModelAvailable, parseRequest(SetModelAvailableSchema, request)),
  };
}
