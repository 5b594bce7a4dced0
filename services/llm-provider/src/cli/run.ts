// One run of the CLI: parse, dispatch to the command, turn whatever went wrong into one line on
// stderr and an exit code.
import { flagValue, parseCommandLine } from "./args.js";
import type { OptionSpecs } from "./args.js";
import { benchCommand } from "./commands/bench.js";
import { chatCommand } from "./commands/chat.js";
import { configCommand } from "./commands/config.js";
import type { Command } from "./commands/command.js";
import { embedCommand } from "./commands/embed.js";
import { healthCommand } from "./commands/health.js";
import { modelsCommand } from "./commands/models.js";
import { reqCommand } from "./commands/req.js";
import { spendCommand } from "./commands/spend.js";
import { DEFAULT_SERVER, connectionSettings } from "./connection.js";
import { createContext } from "./context.js";
import type { Terminal } from "./context.js";
import { EXIT } from "./exit-codes.js";
import type { ExitCode } from "./exit-codes.js";
import { describeFailure, verboseDetails } from "./failure.js";
import type { FailureContext } from "./failure.js";
import { commandHelp, mainHelp } from "./help.js";
import { UsageError } from "./usage-error.js";
import { SERVICE_VERSION } from "../version.js";

export const COMMANDS: readonly Command[] = [
  chatCommand,
  embedCommand,
  modelsCommand,
  healthCommand,
  spendCommand,
  benchCommand,
  reqCommand,
  configCommand,
];

const byName = new Map(COMMANDS.map((command) => [command.name, command]));
/** Every option of every command, so that the first pass can tell option values from the command. */
const ALL_OPTIONS: OptionSpecs = Object.assign(
  {},
  ...COMMANDS.map((command) => command.options),
) as OptionSpecs;

export async function run(argv: readonly string[], terminal: Terminal): Promise<ExitCode> {
  let where: FailureContext = { server: terminal.env["NATS_URL"] || DEFAULT_SERVER };
  let verbose = argv.includes("--verbose") || argv.includes("-v");
  let context: ReturnType<typeof createContext> | undefined;
  try {
    const line = parseCommandLine(argv, ALL_OPTIONS, (name) => byName.get(name)?.options);
    verbose = flagValue(line.values, "verbose");
    if (flagValue(line.values, "version")) {
      terminal.stdout.write(`llm-provider ${SERVICE_VERSION}\n`);
      return EXIT.ok;
    }
    const help = helpFor(line.command, line.positionals, flagValue(line.values, "help"));
    if (help !== undefined) {
      (help.exitCode === EXIT.ok ? terminal.stdout : terminal.stderr).write(help.text);
      return help.exitCode;
    }
    const command = byName.get(line.command!);
    if (command === undefined) throw new UsageError(`unknown command '${line.command}'`);
    const settings = connectionSettings(line.values, terminal.env);
    where = { server: settings.server, inboxPrefix: settings.inboxPrefix };
    context = createContext(terminal, {
      values: line.values,
      positionals: line.positionals,
      settings,
      verbose,
    });
    return await command.run(context);
  } catch (error) {
    const failure = describeFailure(error, where);
    terminal.stderr.write(`${failure.line}\n`);
    if (verbose) terminal.stderr.write(`${verboseDetails(error)}\n`);
    return failure.exitCode;
  } finally {
    await context?.close();
  }
}

/** The help to print instead of running: `--help`, `help [command]`, or no command at all (exit 2). */
function helpFor(
  command: string | undefined,
  positionals: string[],
  helpFlag: boolean,
): { text: string; exitCode: ExitCode } | undefined {
  if (command === undefined) return { text: mainHelp(COMMANDS), exitCode: helpFlag ? EXIT.ok : EXIT.usage };
  if (command === "help") {
    const topic = positionals[0];
    if (topic === undefined) return { text: mainHelp(COMMANDS), exitCode: EXIT.ok };
    const about = byName.get(topic);
    if (about === undefined) throw new UsageError(`unknown command '${topic}'`);
    return { text: commandHelp(about), exitCode: EXIT.ok };
  }
  const about = byName.get(command);
  if (helpFlag && about !== undefined) return { text: commandHelp(about), exitCode: EXIT.ok };
  return undefined;
}
