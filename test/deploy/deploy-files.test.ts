// What can be checked of the container files without a Docker engine: they parse, what they
// mount and copy exists, the service config they use is accepted, and the image runs as non-root.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseConfig, readConfigFile } from "../../services/llm-provider/src/config/load-config.js";
import { PRODUCTION_NODE_FLAGS } from "../bench/service-config.js";
import { imageEntrypoint } from "./dockerfile.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

interface ComposeService {
  volumes?: string[];
  environment?: Record<string, string>;
  entrypoint?: string[];
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
  profiles?: string[];
  build?: string;
  stop_grace_period?: string;
}

describe("docker-compose.yml", () => {
  const compose = parse(readFileSync(`${root}docker-compose.yml`, "utf8")) as {
    services: Record<string, ComposeService>;
  };

  it("runs NATS, a bootstrap, two service replicas, and the observability stack only on request", () => {
    expect(Object.keys(compose.services).sort()).toEqual([
      "bootstrap",
      "jaeger",
      "llm-provider",
      "nats",
      "otel-collector",
    ]);
    expect(compose.services["llm-provider"]!.deploy?.replicas).toBe(2);
    expect(compose.services["llm-provider"]!.build).toBe(".");
    expect(compose.services["otel-collector"]!.profiles).toEqual(["observability"]);
    expect(compose.services["jaeger"]!.profiles).toEqual(["observability"]);
  });

  it("mounts files that exist, and the service configuration it mounts is valid", () => {
    for (const service of Object.values(compose.services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(":")[0]!;
        if (source.startsWith("./")) expect(existsSync(`${root}${source.slice(2)}`), volume).toBe(true);
      }
    }
    const config = parseConfig(readConfigFile(`${root}deploy/compose-config.yaml`), "compose");
    expect(config.providers.map((provider) => provider.id)).toEqual(["openai"]);
    expect(config.callers.identity).toBe("account");
    expect(config.service.create_state).toBe(false);
  });

  it("gives NATS every password the shipped accounts read, and each process its own user", () => {
    const accounts = readFileSync(`${root}deploy/nats/accounts.conf`, "utf8");
    const variables = [...accounts.matchAll(/password: \$(\w+)/g)].map((match) => match[1]).sort();
    expect(Object.keys(compose.services["nats"]!.environment!).sort()).toEqual(variables);
    const { bootstrap, "llm-provider": worker } = compose.services;
    expect(bootstrap!.entrypoint).toEqual(["node", "services/llm-provider/dist/bootstrap.js"]);
    expect(bootstrap!.environment!["LLM_PROVIDER__NATS__USER"]).toBe("llm-provider-bootstrap");
    expect(worker!.environment!["LLM_PROVIDER__NATS__USER"]).toBe("llm-provider");
    expect(worker!.depends_on).toEqual({ bootstrap: { condition: "service_completed_successfully" } });
  });
});

describe("Dockerfile", () => {
  const dockerfile = readFileSync(`${root}Dockerfile`, "utf8");

  it("builds on Node 22 LTS, ships production dependencies only and runs as non-root", () => {
    const froms = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((match) => match[1]);
    expect(froms.every((image) => image === "node:22-bookworm-slim")).toBe(true);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^STOPSIGNAL SIGTERM$/m);
  });

  it("runs Node with the flags the benchmarks measure, leaving NODE_OPTIONS to the operator", () => {
    expect(imageEntrypoint(dockerfile)).toEqual([
      "node",
      ...PRODUCTION_NODE_FLAGS,
      "services/llm-provider/dist/main.js",
    ]);
    expect(dockerfile).not.toMatch(/^ENV NODE_OPTIONS/m);
  });

  it("copies only paths that exist in the repository", () => {
    for (const match of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const source of match[1]!.split(" ")) expect(existsSync(`${root}${source}`), source).toBe(true);
    }
  });
});

describe("npm start", () => {
  it("runs Node with the flags the benchmarks measure, at the root and in the service's package", () => {
    const startScript = (path: string) =>
      (JSON.parse(readFileSync(`${root}${path}`, "utf8")) as { scripts: { start: string } }).scripts.start;
    expect(startScript("package.json")).toBe(
      `node ${PRODUCTION_NODE_FLAGS.join(" ")} services/llm-provider/dist/main.js`,
    );
    expect(startScript("services/llm-provider/package.json")).toBe(
      `node ${PRODUCTION_NODE_FLAGS.join(" ")} dist/main.js`,
    );
  });
});
