// vitest global setup: compiles the service (incremental: seconds when nothing changed) so that the
// tests that start it as a process run what the sources say.
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { REPO_ROOT } from "./built-service.js";

export default function buildService(): void {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-b", "services/llm-provider"], { cwd: REPO_ROOT, stdio: "inherit" });
}
