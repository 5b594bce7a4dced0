import type { Command } from "./commands/command.js";
import { DEFAULT_SERVER } from "./connection.js";
import { EXIT_CODE_HELP } from "./exit-codes.js";

const CONNECTION_HELP = `Connection (flags and variables as the nats CLI names them):
  -s, --server <url>       NATS server URL(s), comma-separated (NATS_URL; default ${DEFAULT_SERVER})
      --creds <file>       user credentials file (NATS_CREDS)
      --user <name>        user name, or a token when no password is given (NATS_USER)
      --password <secret>  password (NATS_PASSWORD)
      --timeout <dur>      how long to wait for a reply: 5s, 500ms, 2m; a bare number is seconds
                           (NATS_TIMEOUT; default per command: chat 120s, embed 60s, models and
                           health 5s, req 60s)
      --inbox-prefix <p>   reply inboxes under this prefix, for NATS users allowed only their own
                           inboxes (docs/security.md), e.g. _INBOX_ingest
  -v, --verbose            which server answered; on errors the details, causes and stack
  -h, --help               this help; llm-provider <command> --help for a command's
  -V, --version            the version`;

export function mainHelp(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((command) => command.name.length));
  const list = commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`).join("\n");
  return `llm-provider: the llm-provider service from a terminal, over NATS

Usage: llm-provider <command> [options] [arguments]

Commands:
${list}
  ${"help".padEnd(width)}  help for a command: llm-provider help chat

${CONNECTION_HELP}

Colours only on a terminal, and never with NO_COLOR set.

${EXIT_CODE_HELP}

Start a worker to talk to: bash scripts/dev.sh. More: docs/cli.md.
`;
}

export function commandHelp(command: Command): string {
  return `Usage: llm-provider ${command.usage}

${command.summary[0]!.toUpperCase()}${command.summary.slice(1)}.

Options:
${command.optionHelp}

${CONNECTION_HELP}

Examples:
${command.examples}

${EXIT_CODE_HELP}
`;
}
