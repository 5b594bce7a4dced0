// `llm-provider chat "prompt"`: streams the answer to stdout as it arrives (stream_chat), a footer
// on stderr; --json prints the whole ChatCompletion of complete_chat instead.
import { SUBJECTS } from "@llm-provider/contracts";
import type { ChatMessage, ChatStream, ChatStreamResult, CompleteChatInput } from "@llm-provider/contracts";
import { attachmentPart } from "../attachments.js";
import { flagValue, integerValue, numberValue, stringValue, stringValues } from "../args.js";
import type { CommandContext, Session } from "../context.js";
import { EXIT } from "../exit-codes.js";
import type { ExitCode } from "../exit-codes.js";
import { formatCount, formatMs, formatUsd } from "../output.js";
import { pickModel } from "../pick-model.js";
import { readAll, stdinIsPiped } from "../stdin.js";
import { UsageError } from "../usage-error.js";
import type { Command } from "./command.js";

export const chatCommand: Command = {
  name: "chat",
  summary: "ask a model; the answer streams to the terminal",
  usage: "chat [options] [prompt…]",
  optionHelp: `  -m, --model <name>       model to ask (default: LLM_PROVIDER_MODEL, else the first available
                           streaming chat model that \`llm-provider models\` lists)
      --system <text>      a system message before the prompt
      --max-tokens <n>     cap on output tokens
      --temperature <t>    sampling temperature, 0-2
      --image <file|url>   an image to send with the prompt (png, jpeg, gif, webp); repeatable
      --file <file|url>    a document to send with the prompt (pdf, txt, md); repeatable
      --json               print the raw ChatCompletion reply (complete_chat, not streamed)
  Without a prompt argument the prompt is read from stdin when it is piped.`,
  examples: `  llm-provider chat "Say hello in French"
  llm-provider chat --model llama3.2 --system "Answer in one line" "What is NATS?"
  git diff | llm-provider chat --max-tokens 300
  llm-provider chat --json "Hi" | jq .usage
  llm-provider chat --model gpt-4o-mini --image screenshot.png "What is wrong on this page?"`,
  options: {
    model: { type: "string", short: "m" },
    system: { type: "string" },
    "max-tokens": { type: "string" },
    temperature: { type: "string" },
    image: { type: "string", multiple: true },
    file: { type: "string", multiple: true },
    json: { type: "boolean" },
  },
  run: runChat,
};

async function runChat(context: CommandContext): Promise<ExitCode> {
  const { values } = context;
  const maxTokens = integerValue(values, "max-tokens", { min: 1, max: 10_000_000 });
  const temperature = numberValue(values, "temperature");
  const prompt = await readPrompt(context);
  const attachments = await Promise.all([
    ...stringValues(values, "image").map((source) => attachmentPart("image", source)),
    ...stringValues(values, "file").map((source) => attachmentPart("file", source)),
  ]);
  const session = await context.connect();
  const timeoutMs = context.settings.timeoutMs;
  const model = await pickModel(
    "chat",
    stringValue(values, "model"),
    context.terminal.env,
    session.client,
    timeoutMs,
  );

  const messages: ChatMessage[] = [];
  const system = stringValue(values, "system");
  if (system !== undefined) messages.push({ role: "system", content: system });
  messages.push({
    role: "user",
    content: attachments.length === 0 ? prompt : [{ type: "text", text: prompt }, ...attachments],
  });
  const request: CompleteChatInput = { model, messages };
  if (maxTokens !== undefined) request.max_tokens = maxTokens;
  if (temperature !== undefined) request.temperature = temperature;
  const callOptions = timeoutMs === undefined ? {} : { timeoutMs };

  if (flagValue(values, "json")) {
    const completion = await session.client.completeChat(request, callOptions);
    context.out(`${JSON.stringify(completion, null, 2)}\n`);
    return EXIT.ok;
  }
  const stream = session.client.streamChat(request, callOptions);
  const result = await printStream(context, session, stream);
  context.err(footer(context, result));
  return EXIT.ok;
}

/** The prompt arguments joined, else piped stdin; an empty prompt is a usage error. */
async function readPrompt(context: CommandContext): Promise<string> {
  let prompt = context.positionals.join(" ");
  if (context.positionals.length === 0 && stdinIsPiped(context.terminal.stdin)) {
    prompt = (await readAll(context.terminal.stdin)).trimEnd();
  }
  if (prompt.trim() === "") {
    throw new UsageError("no prompt: give it as an argument or pipe it on stdin", "chat");
  }
  return prompt;
}

/** Writes each content delta as it arrives; Ctrl-C tells the worker to stop the upstream call. */
async function printStream(
  context: CommandContext,
  session: Session,
  stream: ChatStream,
): Promise<ChatStreamResult> {
  const interrupt = () => {
    session.nc.publish(SUBJECTS.cancelStream, JSON.stringify({ request_id: stream.requestId }));
    context.err("\ninterrupted: the worker was told to stop\n");
    void session.nc.flush().finally(() => process.exit(EXIT.interrupted));
  };
  process.once("SIGINT", interrupt);
  let endsWithNewline = true;
  try {
    for await (const message of stream) {
      if (message.type === "chunk") {
        const text = message.delta.content ?? "";
        if (text === "") continue;
        context.out(text);
        endsWithNewline = text.endsWith("\n");
      } else {
        // The answering target failed mid-answer and another one takes over.
        const verb = message.mode === "restart" ? "restarts (discard the text above)" : "continues";
        context.err(
          context.paint.stderr(
            `\n[${message.reason.code} on ${message.from.provider_id}/${message.from.model}: the answer ` +
              `${verb} on ${message.to.provider_id}/${message.to.model}]\n`,
            "yellow",
          ),
        );
        endsWithNewline = true;
      }
    }
  } finally {
    process.removeListener("SIGINT", interrupt);
    if (!endsWithNewline) context.out("\n");
  }
  return await stream.done;
}

/** `— p0/model-0 · 12 + 3 tokens · $0.000054 · 420 ms (first token 80 ms)`, and any warnings. */
function footer(context: CommandContext, result: ChatStreamResult): string {
  const { usage } = result;
  const firstToken =
    result.time_to_first_chunk_ms === null ? "" : ` (first token ${formatMs(result.time_to_first_chunk_ms)})`;
  const parts = [
    `${result.provider_id}/${result.model}`,
    `${formatCount(usage.prompt_tokens)} + ${formatCount(usage.completion_tokens)} tokens`,
    formatUsd(usage.cost.total),
    `${formatMs(result.latency_ms)}${firstToken}`,
  ];
  if (result.finish_reason !== "stop") parts.push(`finish: ${result.finish_reason}`);
  const lines = [context.paint.stderr(`— ${parts.join(" · ")}`, "dim")];
  for (const warning of result.warnings) lines.push(context.paint.stderr(`warning: ${warning}`, "yellow"));
  return `${lines.join("\n")}\n`;
}
