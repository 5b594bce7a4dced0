// `llm-provider req <subject> [json]`: the raw escape hatch (`nats req` for machines without the
// NATS CLI). Sends the body as given — nothing is checked or filled in — and prints each reply's
// headers and body; a stream_chat subject prints every message up to the end of the stream.
import { headers as createHeaders } from "@nats-io/nats-core";
import type { Msg, MsgHdrs } from "@nats-io/nats-core";
import { ErrorEnvelopeSchema, LlmProviderError } from "@llm-provider/contracts";
import { stringValues } from "../args.js";
import type { CommandContext } from "../context.js";
import { EXIT } from "../exit-codes.js";
import type { ExitCode } from "../exit-codes.js";
import { formatServiceError } from "../failure.js";
import { readAll } from "../stdin.js";
import { UsageError } from "../usage-error.js";
import type { Command } from "./command.js";

const DEFAULT_TIMEOUT_MS = 60_000;
const ERROR_CODE_HEADER = "Nats-Service-Error-Code";

export const reqCommand: Command = {
  name: "req",
  summary: "send one raw request and print the reply's headers and body",
  usage: "req [options] <subject> [json body | -]",
  optionHelp: `  -H, --header <k:v>       a request header, e.g. -H "Request-Id: my-1" (repeatable)
  The body is sent as given (none: an empty body, which the service reads as {}; "-": stdin).
  A *.stream_chat subject prints every message of the stream, one after the other.
  Exits 3 when a reply is an error reply (Nats-Service-Error-Code) or the stream ends in an error.
  Default timeout: 60s.`,
  examples: `  llm-provider req llm-provider.qry.list_models
  llm-provider req llm-provider.cmd.complete_chat '{"model":"llama3.2","messages":[{"role":"user","content":"Hi"}]}'
  llm-provider req -H "Stream-Protocol: 2" llm-provider.cmd.stream_chat '{"model":"llama3.2","messages":[{"role":"user","content":"Hi"}]}'`,
  options: {
    header: { type: "string", short: "H", multiple: true },
  },
  run: runReq,
};

async function runReq(context: CommandContext): Promise<ExitCode> {
  const [subject, bodyArg, ...extra] = context.positionals;
  if (subject === undefined) throw new UsageError("no subject", "req");
  if (extra.length > 0) {
    throw new UsageError(
      `one JSON body only (quote it), got ${extra.length + 1} arguments after the subject`,
      "req",
    );
  }
  const headers = requestHeaders(stringValues(context.values, "header"));
  const body = bodyArg === "-" ? await readAll(context.terminal.stdin) : (bodyArg ?? "");
  const timeout = context.settings.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const { nc } = await context.connect();

  if (!subject.endsWith(".stream_chat")) {
    const reply = await nc.request(subject, body, { timeout, headers });
    printMessage(context, reply);
    return reportErrorReply(context, reply);
  }
  const replies = await nc.requestMany(subject, body, { strategy: "sentinel", maxWait: timeout, headers });
  let exitCode: ExitCode = EXIT.ok;
  for await (const msg of replies) {
    if (msg.data.length === 0) return exitCode; // the end of the stream
    printMessage(context, msg);
    exitCode = reportErrorReply(context, msg);
    if (exitCode === EXIT.ok) exitCode = reportStreamError(context, msg);
  }
  throw new LlmProviderError("request_timeout", `the stream on ${subject} did not end within ${timeout} ms`);
}

/** `-H "Name: value"` or `-H Name:value`, as `nats req` takes them. */
function requestHeaders(specs: string[]): MsgHdrs | undefined {
  if (specs.length === 0) return undefined;
  const headers = createHeaders();
  for (const spec of specs) {
    const colon = spec.indexOf(":");
    const name = colon === -1 ? "" : spec.slice(0, colon).trim();
    if (name === "") throw new UsageError(`--header must be "Name: value", got '${spec}'`, "req");
    headers.append(name, spec.slice(colon + 1).trim());
  }
  return headers;
}

function printMessage(context: CommandContext, msg: Msg): void {
  let text = "";
  for (const [name, values] of msg.headers ?? []) text += `${name}: ${values.join(", ")}\n`;
  context.out(`${text}${msg.string()}\n`);
}

/** An error reply (the service's error headers): its one-line error on stderr, exit code 3. */
function reportErrorReply(context: CommandContext, msg: Msg): ExitCode {
  const code = msg.headers?.get(ERROR_CODE_HEADER) ?? "";
  if (code === "") return EXIT.ok;
  const envelope = ErrorEnvelopeSchema.safeParse(parseJson(msg));
  context.err(
    envelope.success
      ? `${formatServiceError(LlmProviderError.fromBody(envelope.data.error))}\n`
      : `error ${code}: ${msg.headers?.get("Nats-Service-Error") ?? "error reply"}\n`,
  );
  return EXIT.serviceError;
}

/** A stream's terminal `error` message: its one-line error on stderr, exit code 3. */
function reportStreamError(context: CommandContext, msg: Msg): ExitCode {
  const message = parseJson(msg) as { type?: unknown; error?: unknown } | undefined;
  if (message?.type !== "error") return EXIT.ok;
  const envelope = ErrorEnvelopeSchema.safeParse({ error: message.error });
  context.err(
    envelope.success
      ? `${formatServiceError(LlmProviderError.fromBody(envelope.data.error))}\n`
      : "error: the stream ended in an error\n",
  );
  return EXIT.serviceError;
}

function parseJson(msg: Msg): unknown {
  try {
    return msg.json();
  } catch {
    return undefined;
  }
}
