import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "./load-config.js";
import type { Config } from "./schema.js";

/**
 * The configuration named by `--config` (or `LLM_PROVIDER_CONFIG`), for the process entries.
 * Exits 2 on a usage error and 78 (EX_CONFIG) on a config that does not load.
 */
export function configFromArgv(command: string): Config {
  const usage = `usage: ${command} --config <file.yaml|json> (or LLM_PROVIDER_CONFIG)\n`;
  let configPath: string | undefined;
  try {
    const { values } = parseArgs({ options: { config: { type: "string", short: "c" } } });
    configPath = values.config ?? process.env.LLM_PROVIDER_CONFIG;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${usage}`);
    process.exit(2);
  }
  if (!configPath) {
    process.stderr.write(usage);
    process.exit(2);
  }
  try {
    return loadConfig(configPath);
  } catch (error) {
    process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
    process.exit(78);
  }
}
