import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { describeIssue, formatIssuePath } from "@llm-provider/contracts";
import { parse as parseYaml } from "yaml";
import { findBudgetProblems } from "../domain/budgets.js";
import { findCatalogViolations } from "../domain/catalog.js";
import type { ConfigProblem } from "../domain/catalog.js";
import { fillFromCatalogue } from "./model-catalogue.js";
import { ConfigSchema } from "./schema.js";
import type { Config } from "./schema.js";

/** Start-up refuses this configuration; every problem names its field (and policy, where one applies). */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    readonly source: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(
      `invalid configuration (${source}):\n` +
        problems.map((p) => `  - ${p.policy ? `[${p.policy}] ` : ""}${p.field}: ${p.message}`).join("\n"),
    );
  }
}

/** Prefix of generic overrides: `LLM_PROVIDER__SERVICE__MAX_IN_FLIGHT=512` sets `service.max_in_flight`. */
export const ENV_OVERRIDE_PREFIX = "LLM_PROVIDER__";

/** Reads a YAML or JSON file. */
export function readConfigFile(path: string): unknown {
  const text = readFileSync(path, "utf8");
  return extname(path) === ".json" ? (JSON.parse(text) as unknown) : (parseYaml(text) as unknown);
}

/**
 * Applies environment overrides to the raw (unvalidated) config:
 * `NATS_URL`, `LLM_PROVIDER_ENV`, `LOG_LEVEL`, and `LLM_PROVIDER__A__B=value` for any path
 * (values are parsed as JSON when they parse, else taken as strings; numeric segments index arrays).
 */
export function applyEnvOverrides(raw: unknown, env: NodeJS.ProcessEnv): unknown {
  const config = structuredClone(raw ?? {}) as Record<string, unknown>;
  if (env.NATS_URL)
    setPath(
      config,
      ["nats", "servers"],
      env.NATS_URL.split(",").map((s) => s.trim()),
    );
  if (env.LLM_PROVIDER_ENV) setPath(config, ["environment"], env.LLM_PROVIDER_ENV);
  if (env.LOG_LEVEL) setPath(config, ["log_level"], env.LOG_LEVEL);
  const generic = Object.keys(env)
    .filter((key) => key.startsWith(ENV_OVERRIDE_PREFIX))
    .sort();
  for (const key of generic) {
    const path = key.slice(ENV_OVERRIDE_PREFIX.length).toLowerCase().split("__");
    if (!setPath(config, path, parseEnvValue(env[key] ?? ""))) {
      throw new ConfigError("environment", [
        {
          field: key,
          message: "indexes a list with a name; use the entry's position, e.g. PROVIDERS__0__ENDPOINT",
        },
      ]);
    }
  }
  return config;
}

function parseEnvValue(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

/** Sets `value` at `path`, creating objects and lists on the way; false when a list is indexed by a name. */
function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): boolean {
  let node: Record<string | number, unknown> = target;
  for (let index = 0; index < path.length; index++) {
    const segment = path[index]!;
    if (Array.isArray(node) && !/^\d+$/.test(segment)) return false;
    const key: string | number = Array.isArray(node) ? Number(segment) : segment;
    if (index === path.length - 1) {
      node[key] = value;
      return true;
    }
    const next = node[key];
    if (typeof next !== "object" || next === null) node[key] = /^\d+$/.test(path[index + 1] ?? "") ? [] : {};
    node = node[key] as Record<string | number, unknown>;
  }
  return true;
}

/**
 * Validates a raw config: model entries completed from the model catalogue where they ask for it,
 * then the schema, then policies POL-LLM-001/002/005 and cross-references.
 */
export function parseConfig(given: unknown, source: string): Config {
  const { raw, problems: unknownToCatalogue } = fillFromCatalogue(given);
  if (unknownToCatalogue.length > 0) throw new ConfigError(source, unknownToCatalogue);
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      source,
      parsed.error.issues.map((issue) => {
        const { path, message } = describeIssue(issue, raw);
        return { field: formatIssuePath(path) || "(root)", message };
      }),
    );
  }
  const problems = [
    ...findCatalogViolations(parsed.data),
    ...findBudgetProblems(
      parsed.data.callers.contexts,
      new Set(parsed.data.models.map((model) => model.model_name)),
    ),
  ];
  if (problems.length > 0) throw new ConfigError(source, problems);
  return parsed.data;
}

/** File + environment → checked config. */
export function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): Config {
  return parseConfig(applyEnvOverrides(readConfigFile(path), env), path);
}
