// `llm-provider bench`: a quick latency/throughput check of the running service — N requests,
// C at a time, to list_models (default) or complete_chat with --model. Raw requests with the body
// serialized once, so the number measures the service and NATS, not this process's validation.
import { ErrorEnvelopeSchema, LlmProviderError, SUBJECTS } from "@llm-provider/contracts";
import type { NatsConnection } from "@nats-io/nats-core";
import { integerValue, stringValue } from "../args.js";
import type { CommandContext } from "../context.js";
import { EXIT } from "../exit-codes.js";
import type { ExitCode } from "../exit-codes.js";
import { describeFailure } from "../failure.js";
import { formatMs } from "../output.js";
import type { Command } from "./command.js";

const DEFAULT_TIMEOUTS_MS = { listModels: 5_000, chat: 120_000 };

export const benchCommand: Command = {
  name: "bench",
  summary: "measure latency (p50/p99) and throughput of the running service",
  usage: "bench [options]",
  optionHelp: `  -n, --requests <n>       requests to send (default 200)
  -c, --concurrency <c>    requests in flight at once (default 10)
  -m, --model <name>       bench complete_chat with this model (default: list_models)
      --prompt <text>      the chat prompt (default "ping")
      --max-tokens <n>     cap on output tokens per chat request (default 16)
  One warm-up request first: if it fails, bench stops with that request's exit code.
  Exits non-zero when any request failed (the exit code of the first failure).`,
  examples: `  llm-provider bench
  llm-provider bench -n 1000 -c 50
  llm-provider bench --model llama3.2 -n 20 -c 4`,
  options: {
    requests: { type: "string", short: "n" },
    concurrency: { type: "string", short: "c" },
    model: { type: "string", short: "m" },
    prompt: { type: "string" },
    "max-tokens": { type: "string" },
  },
  run: runBench,
};

interface BenchTarget {
  label: string;
  subject: string;
  body: string;
  timeoutMs: number;
}

async function runBench(context: CommandContext): Promise<ExitCode> {
  const { values } = context;
  const requests = integerValue(values, "requests", { min: 1, max: 1_000_000 }) ?? 200;
  const concurrency = Math.min(requests, integerValue(values, "concurrency", { min: 1, max: 10_000 }) ?? 10);
  const target = benchTarget(context);
  const { nc } = await context.connect();

  await send(nc, target); // warm-up: a failure here (no worker, unknown model) ends the run with its exit code
  const latencies: number[] = [];
  const failures = new Map<string, { count: number; exitCode: ExitCode }>();
  let firstFailure: ExitCode | undefined;
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < requests) {
      next++;
      const sent = performance.now();
      try {
        await send(nc, target);
        latencies.push(performance.now() - sent);
      } catch (error) {
        const failure = describeFailure(error, {
          server: context.settings.server,
          inboxPrefix: context.settings.inboxPrefix,
        });
        const key = error instanceof LlmProviderError ? error.code : failure.line;
        const known = failures.get(key) ?? { count: 0, exitCode: failure.exitCode };
        known.count++;
        failures.set(key, known);
        firstFailure ??= failure.exitCode;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = performance.now() - started;

  context.out(report(target, { requests, concurrency, elapsedMs, latencies, failures }));
  return firstFailure ?? EXIT.ok;
}

function benchTarget(context: CommandContext): BenchTarget {
  const model = stringValue(context.values, "model");
  const timeout = context.settings.timeoutMs;
  if (model === undefined) {
    return {
      label: SUBJECTS.listModels,
      subject: SUBJECTS.listModels,
      body: "{}",
      timeoutMs: timeout ?? DEFAULT_TIMEOUTS_MS.listModels,
    };
  }
  const maxTokens = integerValue(context.values, "max-tokens", { min: 1, max: 10_000_000 }) ?? 16;
  const prompt = stringValue(context.values, "prompt") ?? "ping";
  return {
    label: `${SUBJECTS.completeChat} (${model})`,
    subject: SUBJECTS.completeChat,
    body: JSON.stringify({ model, messages: [{ role: "user", content: prompt }], max_tokens: maxTokens }),
    timeoutMs: timeout ?? DEFAULT_TIMEOUTS_MS.chat,
  };
}

/** One request; an error reply throws the typed error. */
async function send(nc: NatsConnection, target: BenchTarget): Promise<void> {
  const reply = await nc.request(target.subject, target.body, { timeout: target.timeoutMs });
  if ((reply.headers?.get("Nats-Service-Error-Code") ?? "") === "") return;
  const envelope = ErrorEnvelopeSchema.safeParse(reply.json());
  throw envelope.success
    ? LlmProviderError.fromBody(envelope.data.error)
    : new LlmProviderError("internal", reply.headers?.get("Nats-Service-Error") ?? "error reply");
}

interface BenchResult {
  requests: number;
  concurrency: number;
  elapsedMs: number;
  latencies: number[];
  failures: Map<string, { count: number }>;
}

function report(target: BenchTarget, result: BenchResult): string {
  const sorted = [...result.latencies].sort((a, b) => a - b);
  const ok = sorted.length;
  const lines = [
    `${target.label}: ${result.requests} requests, ${result.concurrency} at a time, ` +
      `${ok} ok, ${result.requests - ok} failed`,
  ];
  if (ok > 0) {
    lines.push(
      `latency   p50 ${formatMs(percentile(sorted, 0.5))} · p90 ${formatMs(percentile(sorted, 0.9))} · ` +
        `p99 ${formatMs(percentile(sorted, 0.99))} · max ${formatMs(sorted[ok - 1]!)}`,
    );
  }
  const seconds = result.elapsedMs / 1_000;
  lines.push(`throughput ${(ok / seconds).toFixed(1)} req/s (${formatMs(result.elapsedMs)} in all)`);
  for (const [what, { count }] of result.failures) lines.push(`failed    ${count} × ${what}`);
  return `${lines.join("\n")}\n`;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil(p * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] ?? 0;
}
