// `llm-provider models`: the configured models as a table (list_models).
import type { ModelSpec } from "@llm-provider/contracts";
import { flagValue, stringValue } from "../args.js";
import type { CommandContext } from "../context.js";
import { EXIT } from "../exit-codes.js";
import type { ExitCode } from "../exit-codes.js";
import { formatCount, formatPricePerMillion, renderTable, yesNo } from "../output.js";
import type { Cell, Column } from "../output.js";
import type { Command } from "./command.js";

export const modelsCommand: Command = {
  name: "models",
  summary: "list the models the service serves, with features, availability and price",
  usage: "models [options]",
  optionHelp: `      --provider <id>      only this provider's models
      --json               print the raw ModelList reply`,
  examples: `  llm-provider models
  llm-provider models --provider openai --json`,
  options: {
    provider: { type: "string" },
    json: { type: "boolean" },
  },
  run: runModels,
};

const COLUMNS: Column[] = [
  { title: "MODEL" },
  { title: "PROVIDER" },
  { title: "CHAT" },
  { title: "EMBED" },
  { title: "STREAM" },
  { title: "AVAILABLE" },
  { title: "CONTEXT", align: "right" },
  { title: "PRICE IN/OUT PER 1M" },
];

async function runModels(context: CommandContext): Promise<ExitCode> {
  const provider = stringValue(context.values, "provider");
  const { client } = await context.connect();
  const timeoutMs = context.settings.timeoutMs;
  const list = await client.listModels(
    provider === undefined ? {} : { provider_id: provider },
    timeoutMs === undefined ? {} : { timeoutMs },
  );
  if (flagValue(context.values, "json")) {
    context.out(`${JSON.stringify(list, null, 2)}\n`);
    return EXIT.ok;
  }
  if (list.data.length === 0) {
    context.out("no models configured\n");
    return EXIT.ok;
  }
  context.out(renderTable(COLUMNS, list.data.map(modelRow), context.paint.stdout));
  return EXIT.ok;
}

function modelRow(model: ModelSpec): Cell[] {
  const flags = model.feature_flags;
  return [
    { text: model.id },
    { text: model.provider_id },
    yesNo(flags.chat),
    yesNo(flags.embedding),
    yesNo(flags.streaming),
    model.is_available ? { text: "yes", color: "green" } : { text: "no", color: "red" },
    { text: formatCount(model.context_window) },
    {
      text: formatPricePerMillion(
        model.cost_metrics.input_per_million,
        model.cost_metrics.output_per_million,
      ),
    },
  ];
}
