// The command line: `llm-provider [global options] <command> [options] [arguments]`, global
// options accepted anywhere, parsed with node:util's parseArgs (strict: an unknown flag is a usage
// error, never silently ignored).
import { parseArgs } from "node:util";
import { UsageError } from "./usage-error.js";

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
}
export type OptionSpecs = Record<string, OptionSpec>;
export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** Options of every command: the connection flags as the `nats` CLI names them, help, verbosity. */
export const GLOBAL_OPTIONS = {
  server: { type: "string", short: "s" },
  creds: { type: "string" },
  user: { type: "string" },
  password: { type: "string" },
  timeout: { type: "string" },
  "inbox-prefix": { type: "string" },
  verbose: { type: "boolean", short: "v" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const satisfies OptionSpecs;

export interface CommandLine {
  /** The first positional argument, if any. */
  command: string | undefined;
  /** The positional arguments after the command. */
  positionals: string[];
  values: OptionValues;
}

/**
 * Finds the command (the first positional argument, knowing every option so that option values
 * are not taken for it), then parses strictly with the global options and that command's.
 */
export function parseCommandLine(
  argv: readonly string[],
  allOptions: OptionSpecs,
  optionsOf: (command: string) => OptionSpecs | undefined,
): CommandLine {
  const args = [...argv];
  const scan = parseArgs({
    args,
    options: { ...allOptions, ...GLOBAL_OPTIONS },
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const first = scan.tokens.find((token) => token.kind === "positional");
  const command = first?.kind === "positional" ? first.value : undefined;
  if (first !== undefined) args.splice(first.index, 1);
  const commandOptions = command === undefined ? {} : (optionsOf(command) ?? {});
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...GLOBAL_OPTIONS, ...commandOptions },
      strict: true,
      allowPositionals: true,
    });
    return { command, positionals, values };
  } catch (error) {
    throw new UsageError(parseErrorMessage(error), command);
  }
}

/** parseArgs's message, first sentence only (the rest explains `--`, rarely what went wrong). */
function parseErrorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const end = message.indexOf(". ");
  return end === -1 ? message : message.slice(0, end);
}

export function stringValue(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

export function stringValues(values: OptionValues, name: string): string[] {
  const value = values[name];
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === "string");
  return typeof value === "string" ? [value] : [];
}

export function flagValue(values: OptionValues, name: string): boolean {
  return values[name] === true;
}

/** A whole number within bounds, or undefined when the flag is absent. */
export function integerValue(
  values: OptionValues,
  name: string,
  bounds: { min: number; max: number },
): number | undefined {
  const text = stringValue(values, name);
  if (text === undefined) return undefined;
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < bounds.min || value > bounds.max) {
    throw new UsageError(
      `--${name} must be a whole number from ${bounds.min} to ${bounds.max}, got '${text}'`,
    );
  }
  return value;
}

/** A number (e.g. `0.7`), or undefined when the flag is absent; the contract checks its range. */
export function numberValue(values: OptionValues, name: string): number | undefined {
  const text = stringValue(values, name);
  if (text === undefined) return undefined;
  const value = text.trim() === "" ? Number.NaN : Number(text);
  if (!Number.isFinite(value)) throw new UsageError(`--${name} must be a number, got '${text}'`);
  return value;
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * A duration as the `nats` CLI takes it (`5s`, `500ms`, `2m`, `1.5s`); a bare number is seconds.
 * Returns milliseconds.
 */
export function parseDuration(text: string, what: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  const ms = match ? Number(match[1]) * DURATION_UNITS_MS[match[2] ?? "s"]! : Number.NaN;
  if (!Number.isFinite(ms) || ms < 1 || ms > 86_400_000) {
    throw new UsageError(`${what} must be a duration such as 5s, 500ms or 2m, got '${text}'`);
  }
  return Math.round(ms);
}
