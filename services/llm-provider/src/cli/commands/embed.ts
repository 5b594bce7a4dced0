// `llm-provider embed "text" [more…]`: one vector per text; prints its size and first values.
import type { GenerateEmbeddingInput } from "@llm-provider/contracts";
import { flagValue, integerValue, stringValue } from "../args.js";
import type { CommandContext } from "../context.js";
import { EXIT } from "../exit-codes.js";
import type { ExitCode } from "../exit-codes.js";
import { formatCount, formatMs, formatUsd } from "../output.js";
import { pickModel } from "../pick-model.js";
import { readAll, stdinIsPiped } from "../stdin.js";
import { UsageError } from "../usage-error.js";
import type { Command } from "./command.js";

/** Values shown per vector. */
const SHOWN_VALUES = 5;

export const embedCommand: Command = {
  name: "embed",
  summary: "embed one or more texts; prints dimensions, model and the first values",
  usage: "embed [options] <text> [more texts…]",
  optionHelp: `  -m, --model <name>       embedding model (default: LLM_PROVIDER_EMBEDDING_MODEL, else the first
                           available embedding model that \`llm-provider models\` lists)
      --dimensions <n>     requested vector length, where the model supports it
      --json               print the raw EmbeddingResult reply
  Without a text argument the text is read from stdin when it is piped.`,
  examples: `  llm-provider embed "hello world"
  llm-provider embed --model text-embedding-3-small "first" "second"
  llm-provider embed --json "hello" | jq '.data[0].embedding | length'`,
  options: {
    model: { type: "string", short: "m" },
    dimensions: { type: "string" },
    json: { type: "boolean" },
  },
  run: runEmbed,
};

async function runEmbed(context: CommandContext): Promise<ExitCode> {
  const { values } = context;
  const dimensions = integerValue(values, "dimensions", { min: 1, max: 65_536 });
  const texts = await readTexts(context);
  const session = await context.connect();
  const timeoutMs = context.settings.timeoutMs;
  const model = await pickModel(
    "embedding",
    stringValue(values, "model"),
    context.terminal.env,
    session.client,
    timeoutMs,
  );
  const request: GenerateEmbeddingInput = { model, input: texts.length === 1 ? texts[0]! : texts };
  if (dimensions !== undefined) request.dimensions = dimensions;
  const result = await session.client.generateEmbedding(
    request,
    timeoutMs === undefined ? {} : { timeoutMs },
  );

  if (flagValue(values, "json")) {
    context.out(`${JSON.stringify(result, null, 2)}\n`);
    return EXIT.ok;
  }
  const paint = context.paint.stdout;
  const summary = [
    `${result.provider_id}/${result.model}`,
    `${formatCount(result.usage.total_tokens)} token${result.usage.total_tokens === 1 ? "" : "s"}`,
    formatUsd(result.usage.cost.total),
    formatMs(result.latency_ms),
  ];
  const lines = [paint(summary.join(" · "), "dim")];
  for (const item of result.data) {
    const cached = item.cached ? paint(" (cached)", "dim") : "";
    lines.push(`[${item.index}] ${item.dimensions} dimensions${cached}: ${preview(item.embedding)}`);
  }
  for (const warning of result.warnings) lines.push(paint(`warning: ${warning}`, "yellow"));
  context.out(`${lines.join("\n")}\n`);
  return EXIT.ok;
}

async function readTexts(context: CommandContext): Promise<string[]> {
  if (context.positionals.length > 0) return context.positionals;
  if (stdinIsPiped(context.terminal.stdin)) {
    const text = (await readAll(context.terminal.stdin)).trimEnd();
    if (text !== "") return [text];
  }
  throw new UsageError("no text: give one or more as arguments or pipe one on stdin", "embed");
}

/** `[0.0123, -0.4567, …]` — the first values, 4 decimals. */
function preview(embedding: number[] | string): string {
  if (typeof embedding === "string") return `(base64, ${embedding.length} characters)`;
  const shown = embedding.slice(0, SHOWN_VALUES).map((value) => value.toFixed(4));
  if (embedding.length > SHOWN_VALUES) shown.push("…");
  return `[${shown.join(", ")}]`;
}
