// `llm-provider config apply|diff|set-provider-active|set-model-available`: the live configuration
// in KV (docs/configuration.md "Live configuration"). Needs a NATS user that may write its bucket.
import { integerValue, stringValue } from "../args.js";
import type { CommandContext } from "../context.js";
import { EXIT } from "../exit-codes.js";
import type { ExitCode } from "../exit-codes.js";
import { UsageError } from "../usage-error.js";
import type { ConfigAdminResult } from "../../config-admin.js";
import type { Command } from "./command.js";

export const configCommand: Command = {
  name: "config",
  summary: "apply, diff or edit the live configuration in NATS KV (admin credentials)",
  usage:
    "config apply|diff --file <file> | config set-provider-active <id> true|false | config set-model-available <model> true|false",
  optionHelp: `      --file <file>             the configuration file (YAML or JSON), validated whole
      --expect-revision <n>     apply only over this stored revision (default: the one read now)
      --bucket <name>           the KV bucket (default: the file's live_config.bucket, else llm_provider_config)`,
  examples: `  llm-provider config diff --file config.yaml
  llm-provider config apply --file config.yaml --expect-revision 12
  llm-provider config set-provider-active openai false
  llm-provider config set-model-available gpt-4o true`,
  options: {
    file: { type: "string", short: "f" },
    "expect-revision": { type: "string" },
    bucket: { type: "string" },
  },
  run: runConfig,
};

/** Loaded on use: the rest of the CLI starts without the service's configuration and KV code. */
const configAdmin = () => import("../../config-admin.js");

const FLAG_ACTIONS = { "set-provider-active": "provider", "set-model-available": "model" } as const;

async function runConfig(context: CommandContext): Promise<ExitCode> {
  const [action, id, value] = context.positionals;
  const bucket = stringValue(context.values, "bucket");
  let result: ConfigAdminResult;
  if (action === "apply" || action === "diff") {
    const file = stringValue(context.values, "file");
    if (file === undefined) throw new UsageError(`config ${action} needs --file`, "config");
    const expectRevision = integerValue(context.values, "expect-revision", {
      min: 0,
      max: Number.MAX_SAFE_INTEGER,
    });
    const { nc } = await context.connect();
    const { applyConfigFile } = await configAdmin();
    result = await applyConfigFile(nc, { file, write: action === "apply", bucket, expectRevision });
  } else if (action === "set-provider-active" || action === "set-model-available") {
    const what = FLAG_ACTIONS[action];
    if (id === undefined || (value !== "true" && value !== "false"))
      throw new UsageError(`expected: config ${action} <${what}> true|false`, "config");
    const { nc } = await context.connect();
    const { setStoredFlag } = await configAdmin();
    result = await setStoredFlag(nc, { what, id, on: value === "true", bucket });
  } else {
    throw new UsageError(
      action === undefined ? "config needs an action" : `unknown config action '${action}'`,
      "config",
    );
  }
  context.out(result.changes);
  if (result.revision !== undefined)
    context.out(`applied: revision ${result.revision} (was ${result.previous ?? "none"})\n`);
  return EXIT.ok;
}
