import type { OptionSpecs } from "../args.js";
import type { CommandContext } from "../context.js";
import type { ExitCode } from "../exit-codes.js";

/** One `llm-provider <name>` command. */
export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** `chat [options] [prompt…]` */
  usage: string;
  /** The command's own options and what they do, as help lines. */
  optionHelp: string;
  /** Examples, one per line. */
  examples: string;
  options: OptionSpecs;
  run(context: CommandContext): Promise<ExitCode>;
}
