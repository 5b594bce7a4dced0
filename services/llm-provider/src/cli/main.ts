#!/usr/bin/env node
// The `llm-provider` command (docs/cli.md). Loads only the CLI, the contracts' client and the NATS
// transport — none of the service's providers, telemetry or SDKs — so that it starts fast.
import { run } from "./run.js";

// `llm-provider models | head -3`: a reader that leaves early is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

process.exitCode = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
});
