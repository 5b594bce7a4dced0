// Connection settings from the flags and NATS_* variables the `nats` CLI reads, and one
// connection per run: no reconnects (a CLI fails fast and says why), creds read from the file.
import { readFileSync } from "node:fs";
import { credsAuthenticator } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import type { NodeConnectionOptions } from "@nats-io/transport-node";
import { parseDuration, stringValue } from "./args.js";
import type { OptionValues } from "./args.js";
import { UsageError } from "./usage-error.js";

export const DEFAULT_SERVER = "nats://127.0.0.1:4222";
/** How long the first connect may take when no --timeout says otherwise. */
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

export interface ConnectionSettings {
  /** As given: one URL or a comma-separated list. */
  server: string;
  creds: string | undefined;
  user: string | undefined;
  password: string | undefined;
  inboxPrefix: string | undefined;
  /** --timeout / NATS_TIMEOUT in ms; undefined: each command's own default. */
  timeoutMs: number | undefined;
}

/** Flags first, then the environment (NATS_URL, NATS_CREDS, NATS_USER, NATS_PASSWORD, NATS_TIMEOUT). */
export function connectionSettings(values: OptionValues, env: NodeJS.ProcessEnv): ConnectionSettings {
  const pick = (flag: string, variable: string) => stringValue(values, flag) ?? nonEmpty(env[variable]);
  const timeout = pick("timeout", "NATS_TIMEOUT");
  return {
    server: pick("server", "NATS_URL") ?? DEFAULT_SERVER,
    creds: pick("creds", "NATS_CREDS"),
    user: pick("user", "NATS_USER"),
    password: pick("password", "NATS_PASSWORD"),
    inboxPrefix: stringValue(values, "inbox-prefix"),
    timeoutMs: timeout === undefined ? undefined : parseDuration(timeout, "--timeout"),
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

/** NATS refused or could not be reached: exit code 5, one line, never a stack trace. */
export class ConnectionFailure extends Error {
  override readonly name = "ConnectionFailure";

  constructor(
    readonly server: string,
    cause: unknown,
  ) {
    super(`cannot connect to NATS at ${server}: ${reasonOf(cause)}`, { cause });
  }
}

function reasonOf(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const code = (cause as { code?: unknown }).code;
  // "getaddrinfo ENOTFOUND host", "connection refused", "Authorization Violation", …
  return typeof code === "string" && !cause.message.includes(code)
    ? `${cause.message} (${code})`
    : cause.message;
}

/** The options `connect` gets: user and password (a user alone is a token, as with `nats`), or creds. */
export function connectOptions(settings: ConnectionSettings): NodeConnectionOptions {
  const options: NodeConnectionOptions = {
    servers: settings.server.split(",").map((server) => server.trim()),
    name: "llm-provider-cli",
    reconnect: false,
    timeout: settings.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    noAsyncTraces: true,
  };
  if (settings.user !== undefined && settings.password !== undefined) {
    options.user = settings.user;
    options.pass = settings.password;
  } else if (settings.user !== undefined) {
    options.token = settings.user;
  } else if (settings.password !== undefined) {
    throw new UsageError("--password needs --user (or NATS_USER)");
  }
  if (settings.creds !== undefined) options.authenticator = credsAuthenticator(readCreds(settings.creds));
  if (settings.inboxPrefix !== undefined) options.inboxPrefix = settings.inboxPrefix;
  return options;
}

function readCreds(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new UsageError(`cannot read the creds file ${path} (${typeof code === "string" ? code : "error"})`);
  }
}

export async function openConnection(settings: ConnectionSettings): Promise<NatsConnection> {
  const options = connectOptions(settings);
  try {
    return await connect(options);
  } catch (error) {
    throw new ConnectionFailure(settings.server, error);
  }
}
