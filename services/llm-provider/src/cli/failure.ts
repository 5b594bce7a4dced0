// Every way a run can fail, as one line on stderr and an exit code (exit-codes.ts); --verbose
// adds what a bug report needs (details, causes, stack).
import { errors as natsErrors } from "@nats-io/nats-core";
import { LlmProviderError } from "@llm-provider/contracts";
import { ConnectionFailure } from "./connection.js";
import { EXIT } from "./exit-codes.js";
import type { ExitCode } from "./exit-codes.js";
import { UsageError } from "./usage-error.js";

export interface Failure {
  exitCode: ExitCode;
  /** One line, no trailing newline. */
  line: string;
}

/** Where the run was talking to, for messages that name it. */
export interface FailureContext {
  server: string;
  inboxPrefix?: string | undefined;
}

/** How to start a worker, for the no-responders message. */
const START_HINT = "start one with `bash scripts/dev.sh`";

export function describeFailure(error: unknown, context: FailureContext): Failure {
  if (error instanceof UsageError) {
    const help = error.command === undefined ? "llm-provider --help" : `llm-provider ${error.command} --help`;
    return { exitCode: EXIT.usage, line: `usage error: ${error.message} (see ${help})` };
  }
  const badSubject = causes(error).find((current) => current instanceof natsErrors.InvalidSubjectError);
  if (badSubject instanceof Error)
    return { exitCode: EXIT.usage, line: `usage error: ${badSubject.message}` };
  // config-admin's ConfigError, known by name: the CLI does not load it for other commands.
  if (error instanceof Error && error.name === "ConfigError")
    return { exitCode: EXIT.invalidConfig, line: error.message };
  if (error instanceof ConnectionFailure)
    return { exitCode: EXIT.connection, line: `error: ${error.message}` };
  const noResponders = findNoResponders(error);
  if (noResponders !== undefined) {
    const subject = noResponders.subject === "" ? "" : ` (${noResponders.subject})`;
    return {
      exitCode: EXIT.noResponders,
      line: `error: no llm-provider worker answers on ${context.server}${subject}; ${START_HINT}`,
    };
  }
  if (isTimeout(error)) {
    const message = error instanceof LlmProviderError ? error.message : "no reply in time";
    // A worker does not answer a reply subject it does not accept (docs/security.md): no error, no reply.
    const hint =
      context.inboxPrefix === undefined
        ? "raise it with --timeout"
        : "raise it with --timeout; or the service does not accept replies to " +
          `${context.inboxPrefix}.: an account import or callers.reply_prefixes makes it`;
    return { exitCode: EXIT.timeout, line: `error request_timeout: ${message} (${hint})` };
  }
  if (error instanceof LlmProviderError) {
    // service_unavailable comes from the typed client only: the request did not get through NATS.
    if (error.code === "service_unavailable") {
      return { exitCode: EXIT.connection, line: `error: NATS at ${context.server}: ${error.message}` };
    }
    return { exitCode: EXIT.serviceError, line: formatServiceError(error) };
  }
  if (isNatsError(error))
    return { exitCode: EXIT.connection, line: `error: NATS at ${context.server}: ${error.message}` };
  const message = error instanceof Error ? error.message : String(error);
  return { exitCode: EXIT.unexpected, line: `error: ${message}` };
}

/** `error invalid_request (messages[0].content) [POL-LLM-003]: must not be empty (retry after 200 ms)` */
export function formatServiceError(error: LlmProviderError): string {
  let message = error.message;
  // The service's invalid_request messages start with the field the line already names.
  if (error.field !== undefined && message.startsWith(`${error.field}: `)) {
    message = message.slice(error.field.length + 2);
  }
  const field = error.field === undefined ? "" : ` (${error.field})`;
  const policy = error.policy === undefined ? "" : ` [${error.policy}]`;
  const retry = error.retryAfterMs === undefined ? "" : ` (retry after ${error.retryAfterMs} ms)`;
  return `error ${error.code}${field}${policy}: ${message}${retry}`;
}

/** The details --verbose adds: the error's fields, its causes and stacks. */
export function verboseDetails(error: unknown): string {
  const lines: string[] = [];
  if (error instanceof LlmProviderError) {
    lines.push(`  retryable: ${error.retryable}`);
    if (error.details !== undefined) lines.push(`  details: ${JSON.stringify(error.details)}`);
  }
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    if (current instanceof Error) {
      lines.push(
        depth === 0 ? (current.stack ?? String(current)) : `caused by: ${current.stack ?? String(current)}`,
      );
      current = current.cause;
    } else {
      lines.push(`caused by: ${JSON.stringify(current) ?? typeof current}`);
      current = undefined;
    }
  }
  return lines.join("\n");
}

/** The no-responders error anywhere in the cause chain (the typed client wraps it). */
function findNoResponders(error: unknown): { subject: string } | undefined {
  for (const current of causes(error)) {
    if (current instanceof natsErrors.NoRespondersError) return { subject: current.subject };
    if (current instanceof natsErrors.RequestError && current.isNoResponders()) {
      const cause = current.cause;
      return { subject: cause instanceof natsErrors.NoRespondersError ? cause.subject : "" };
    }
  }
  return undefined;
}

function isTimeout(error: unknown): boolean {
  if (error instanceof LlmProviderError) return error.code === "request_timeout";
  return causes(error).some((current) => current instanceof natsErrors.TimeoutError);
}

function isNatsError(error: unknown): error is Error {
  return causes(error).some(
    (current) =>
      current instanceof natsErrors.RequestError ||
      current instanceof natsErrors.PermissionViolationError ||
      current instanceof natsErrors.ClosedConnectionError ||
      current instanceof natsErrors.ConnectionError ||
      current instanceof natsErrors.AuthorizationError ||
      current instanceof natsErrors.ProtocolError,
  );
}

function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let current = error; current !== undefined && chain.length < 5;) {
    chain.push(current);
    current = current instanceof Error ? current.cause : undefined;
  }
  return chain;
}
