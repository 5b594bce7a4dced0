// Runs the BUILT `llm-provider` CLI (services/llm-provider/dist/cli/main.js, compiled by vitest's
// global setup) as a child process, the way a user's shell does, and collects what it printed.
import { spawn } from "node:child_process";
import { REPO_ROOT } from "../support/built-service.js";

export const CLI_ENTRY = "services/llm-provider/dist/cli/main.js";
/** A CLI run that has not exited by then is killed (and the test fails on its exit code). */
const KILL_AFTER_MS = 15_000;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Written to stdin, which is then closed; without it stdin is closed at once (empty, not a TTY). */
  input?: string;
  /** Added to an environment without any NATS_*, LLM_PROVIDER_* or NO_COLOR variable of the test's own. */
  env?: NodeJS.ProcessEnv;
}

export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(NATS_|LLM_PROVIDER_|NO_COLOR$|FORCE_COLOR$)/.test(name)) env[name] = value;
  }
  return { ...env, ...extra };
}

export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return runProcess(process.execPath, [CLI_ENTRY, ...args], options);
}

/** Any command (e.g. `npm run req`) from the repository root, collected the same way. */
export function runProcess(
  command: string,
  args: readonly string[],
  options: CliOptions = {},
): Promise<CliResult> {
  const child = spawn(command, args, { cwd: REPO_ROOT, env: cleanEnv(options.env), stdio: "pipe" });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  child.stdin.end(options.input ?? "");
  const kill = setTimeout(() => child.kill("SIGKILL"), KILL_AFTER_MS);
  return new Promise((resolve, reject) => {
    child.once("error", (error) => {
      clearTimeout(kill);
      reject(error);
    });
    child.once("close", (code) => {
      clearTimeout(kill);
      resolve({ code, stdout, stderr });
    });
  });
}
