// The service's entry points from the build (what the image runs), for tests that start it as a
// process: no TypeScript compile at start, so a loaded machine delays a start by milliseconds, not
// seconds. vitest's global setup (test/support/build-service.ts) builds it before any test runs.
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** `node <args>` for the worker (`main`) or `llm-provider-bootstrap`, from `services/llm-provider/dist`. */
export function builtServiceArgs(entry: "main" | "bootstrap", args: readonly string[]): string[] {
  return [`services/llm-provider/dist/${entry}.js`, ...args];
}
