/**
 * The CLI's exit codes (`llm-provider --help` and docs/cli.md list them). Scripts branch on them:
 * 3 is the service's answer (do not retry blindly), 4-6 say the request never got one.
 */
export const EXIT = {
  ok: 0,
  /** A failure the CLI did not expect (a bug): the message says what. */
  unexpected: 1,
  /** Bad flags or arguments; nothing was sent. */
  usage: 2,
  /** The service (or the contract, checked before sending) answered with a typed error. */
  serviceError: 3,
  /** Nobody answers the subject: no llm-provider worker runs on that NATS. */
  noResponders: 4,
  /** NATS is unreachable or refused the connection (address, credentials, permissions). */
  connection: 5,
  /** No reply within the timeout (`request_timeout`). */
  timeout: 6,
  /** `config apply` (or an edit) refused a configuration that does not validate; nothing was written. */
  invalidConfig: 7,
  /** Stopped by Ctrl-C (128 + SIGINT). */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The exit-code table as the help text and docs/cli.md show it. */
export const EXIT_CODE_HELP = `Exit codes:
  0  success
  2  usage error (bad flag or argument; nothing was sent)
  3  typed service error (LlmProviderError: unknown_model, invalid_request, rate_limited, …)
  4  no responders (no llm-provider worker answers on this NATS)
  5  connection failure (NATS unreachable, credentials or permissions refused)
  6  timeout (no reply within --timeout: request_timeout)
  7  invalid configuration (config apply/edit: every problem listed, nothing written)
  1  unexpected failure (a bug in the CLI; --verbose shows the stack)`;
