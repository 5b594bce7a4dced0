// The CLI's layer rule (eslint.config.js): it is a client of the service — the contracts, the NATS
// transport, shared utilities — and never loads the service's handlers, infra, SDKs or telemetry,
// which is also what keeps `llm-provider models` fast to start.
import { ESLint } from "eslint";
import tseslint from "typescript-eslint";
import { describe, expect, it } from "vitest";

const eslint = new ESLint({
  cwd: new URL("../..", import.meta.url).pathname,
  overrideConfig: tseslint.configs.disableTypeChecked,
});

async function restrictedImports(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${code}\nexport {};\n`, {
    filePath: `services/llm-provider/src/cli/${file}`,
  });
  return (result?.messages ?? []).filter((m) => m.ruleId === "no-restricted-imports").map((m) => m.message);
}

describe("cli layer rule", () => {
  it.each([
    ["commands/x.ts", 'import { connectNats } from "../../infra/nats/nats-connection.js";'],
    ["commands/x.ts", 'import { createEndpoints } from "../../handlers/endpoints.js";'],
    ["x.ts", 'import { startApp } from "../app.js";'],
    ["x.ts", 'import type { Config } from "../config/schema.js";'],
    ["x.ts", 'import OpenAI from "openai";'],
    ["x.ts", 'import { NodeSDK } from "@opentelemetry/sdk-node";'],
    ["x.ts", 'import { pino } from "pino";'],
    ["x.ts", 'import { jetstream } from "@nats-io/jetstream";'],
  ])("cli/%s may not: %s", async (file, line) => {
    expect(await restrictedImports(file, line)).toHaveLength(1);
  });

  it.each([
    ["x.ts", 'import { createLlmProviderClient } from "@llm-provider/contracts";'],
    ["x.ts", 'import { connect } from "@nats-io/transport-node";'],
    ["x.ts", 'import { SERVICE_VERSION } from "../version.js";'],
    ["commands/x.ts", 'import { withinMs } from "../../shared/within-ms.js";'],
    ["commands/x.ts", 'import { renderTable } from "../output.js";'],
  ])("cli/%s may: %s", async (file, line) => {
    expect(await restrictedImports(file, line)).toEqual([]);
  });
});
