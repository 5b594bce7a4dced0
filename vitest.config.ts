import { defineConfig } from "vitest/config";

export default defineConfig({
  // Run the workspace packages from their TypeScript sources: no build step before tests.
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"], externalConditions: ["source"] } },
  test: {
    // Tests that start the service as a process run its build: compiled once, here.
    globalSetup: ["test/support/build-service.ts"],
    include: ["contracts/src/**/*.test.ts", "services/llm-provider/src/**/*.test.ts", "test/**/*.test.ts"],
    // Each integration file starts its own nats-server; two cores, so keep files from starving each other.
    maxWorkers: 2,
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
