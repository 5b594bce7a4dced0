// The layer rules of eslint.config.js catch an import that points the wrong way (and let the
// right ones through): CI's lint fails on such an arrow.
import { ESLint } from "eslint";
import tseslint from "typescript-eslint";
import { describe, expect, it } from "vitest";

// The snippets are not files of the TypeScript project: lint them without type information.
const eslint = new ESLint({
  cwd: new URL("../..", import.meta.url).pathname,
  overrideConfig: tseslint.configs.disableTypeChecked,
});
const SRC = "services/llm-provider/src";

async function restrictedImports(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${SRC}/${file}` });
  return (result?.messages ?? []).filter((m) => m.ruleId === "no-restricted-imports").map((m) => m.message);
}

describe("layer rules", () => {
  it.each([
    ["domain/x.ts", 'import type { Handler } from "../ports/request-handler.js";'],
    ["domain/x.ts", 'import { connect } from "@nats-io/transport-node";'],
    ["handlers/chat/x.ts", 'import { startMicroService } from "../../infra/nats/micro-service.js";'],
    ["handlers/chat/x.ts", 'import type { NatsConnection } from "@nats-io/nats-core";'],
    ["handlers/chat/x.ts", 'import OpenAI from "openai";'],
    ["routing/x.ts", 'import { createEndpoints } from "../handlers/endpoints.js";'],
    ["infra/nats/x.ts", 'import { createEndpoints } from "../../handlers/endpoints.js";'],
    ["infra/kv/x.ts", 'import { executeWithFallback } from "../../routing/execute-with-fallback.js";'],
    ["providers/openai/x.ts", 'import { withinMs } from "../../infra/http/undici-fetch.js";'],
    ["ports/x.ts", 'import type { Config } from "../config/schema.js";'],
    ["telemetry/x.ts", 'import { NodeSDK } from "@opentelemetry/sdk-node";'],
  ])("%s may not: %s", async (file, line) => {
    expect(await restrictedImports(file, `${line}\nexport {};\n`)).toHaveLength(1);
  });

  it.each([
    ["handlers/chat/x.ts", 'import { executeWithFallback } from "../../routing/execute-with-fallback.js";'],
    ["routing/x.ts", 'import type { ProviderClient } from "../ports/provider-client.js";'],
    ["infra/kv/x.ts", 'import type { RateLimiter } from "../../ports/rate-limiter.js";'],
    ["providers/openai/x.ts", 'import { UpstreamError } from "../../domain/failure.js";'],
    ["composition/x.ts", 'import { startMicroService } from "../infra/nats/micro-service.js";'],
  ])("%s may: %s", async (file, line) => {
    expect(await restrictedImports(file, `${line}\nexport {};\n`)).toEqual([]);
  });
});

// The CLI is a client of the service (the contracts, the NATS transport, shared utilities): it never
// loads the service's handlers, infra, SDKs or telemetry, which also keeps it fast to start.
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
    expect(await restrictedImports(`cli/${file}`, `${line}\nexport {};\n`)).toHaveLength(1);
  });

  it.each([
    ["x.ts", 'import { createLlmProviderClient } from "@llm-provider/contracts";'],
    ["x.ts", 'import { connect } from "@nats-io/transport-node";'],
    ["x.ts", 'import { SERVICE_VERSION } from "../version.js";'],
    ["commands/x.ts", 'import { withinMs } from "../../shared/within-ms.js";'],
    ["commands/x.ts", 'import { renderTable } from "../output.js";'],
  ])("cli/%s may: %s", async (file, line) => {
    expect(await restrictedImports(`cli/${file}`, `${line}\nexport {};\n`)).toEqual([]);
  });
});
