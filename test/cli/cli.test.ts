// The built `llm-provider` CLI against a real nats-server and the service (in-process) on a fake
// OpenAI upstream (the echo: it answers "echo: <last message>", streamed a word per chunk): what
// the CLI prints and its exit code, for each command and each way of failing.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subscription } from "@nats-io/nats-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { chooseLoopbackPort } from "../harness/loopback-port.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { embedderModel, startTestService, testConfig, TEST_API_KEY } from "../support/service.js";
import type { TestService } from "../support/service.js";
import { eventually } from "../support/until.js";
import { runCli, runProcess } from "./run-cli.js";

let nats: NatsServerHandle;
let upstream: FakeOpenAIServer;
let service: TestService;
let scratch: string;
/** A 1×1 PNG. */
const PNG_PIXEL = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);
/** `--server <the test's nats-server>` */
let server: string[];

beforeAll(async () => {
  nats = await startNatsServer();
  upstream = await startFakeOpenAIServer({ apiKey: TEST_API_KEY });
  // Two providers on the one echo upstream, so that there is a fallback chain to show.
  const config = testConfig(nats.url, [upstream.baseUrl, upstream.baseUrl], {
    fallback_chains: [{ id: "main", models: ["model-0", "model-1"] }],
    // One account here: a reply subject outside _INBOX. is answered only when configured.
    callers: { reply_prefixes: ["_INBOX_cli_test."] },
  });
  config.models.push(embedderModel());
  config.models[1]!.features = { chat: true, function_calling: true, streaming: true, vision: true };
  scratch = await mkdtemp(join(tmpdir(), "llm-provider-cli-"));
  service = await startTestService(config);
  server = ["--server", nats.url];
});

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
  await service?.stop();
  await upstream?.close();
  await nats?.stop();
});

beforeEach(() => upstream.reset());

/** The body of the one chat request the upstream received. */
function upstreamChatBody(): Record<string, unknown> {
  const chats = upstream.requests.filter((request) => request.path === "/v1/chat/completions");
  expect(chats).toHaveLength(1);
  return chats[0]!.body as Record<string, unknown>;
}

describe("chat", () => {
  it("streams the answer to stdout and puts provider, model, tokens, cost and latency on stderr", async () => {
    const result = await runCli(["chat", ...server, "--model", "model-0", "Hello there"]);
    expect(result).toMatchObject({ code: 0, stdout: "echo: Hello there\n" });
    expect(result.stderr).toMatch(/^— p0\/model-0 · \d+ \+ \d+ tokens · (\$[\d.]+|<\$0\.000001) · \d/);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(upstreamChatBody()).toMatchObject({
      stream: true,
      messages: [{ role: "user", content: "Hello there" }],
    });
  });

  it("asks the first available streaming chat model when none is named, with --system, --max-tokens and --temperature", async () => {
    const result = await runCli([
      ...server,
      "chat",
      "--system",
      "Be brief.",
      "--max-tokens",
      "50",
      "--temperature",
      "0.2",
      "What",
      "is",
      "NATS?",
    ]);
    expect(result).toMatchObject({ code: 0, stdout: "echo: What is NATS?\n" });
    expect(upstreamChatBody()).toMatchObject({
      model: "upstream-model-0",
      max_completion_tokens: 50,
      temperature: 0.2,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "What is NATS?" },
      ],
    });
  });

  it("--json prints the raw ChatCompletion of complete_chat", async () => {
    const result = await runCli(["chat", ...server, "--json", "--model", "model-0", "Hi"]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      model: "model-0",
      provider_id: "p0",
      content: "echo: Hi",
      finish_reason: "stop",
      usage: { cost: { currency: "USD" } },
    });
    expect(upstreamChatBody()["stream"]).toBeUndefined();
  });

  it("reads the prompt from stdin when it is piped and no prompt is given", async () => {
    const result = await runCli(["chat", ...server, "--model", "model-0"], { input: "Piped prompt\n" });
    expect(result).toMatchObject({ code: 0, stdout: "echo: Piped prompt\n" });
  });

  it("sends --image as a content part, base64 from a file", async () => {
    const image = join(scratch, "pixel.png");
    await writeFile(image, PNG_PIXEL);
    const result = await runCli(["chat", ...server, "--model", "model-1", "--image", image, "What is this?"]);
    expect(result.code).toBe(0);
    expect(upstreamChatBody()).toMatchObject({
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What is this?" },
            {
              type: "image_url",
              image_url: { url: `data:image/png;base64,${PNG_PIXEL.toString("base64")}` },
            },
          ],
        },
      ],
    });
  });

  it("an image for a model without vision: the typed refusal, exit 3, nothing sent upstream", async () => {
    const result = await runCli([
      "chat",
      ...server,
      "--model",
      "model-0",
      "--image",
      "https://example.com/cat.png",
      "Hi",
    ]);
    expect(result).toMatchObject({ code: 3, stdout: "" });
    expect(result.stderr).toBe(
      "error unsupported_content (messages[0].content[1]): model 'model-0' does not take images (no vision capability)\n",
    );
    expect(upstream.requests).toHaveLength(0);
  });

  it("refuses an attachment it cannot type with a usage error, before connecting", async () => {
    const result = await runCli(["chat", "--server", "nats://127.0.0.1:1", "--image", "cat.bmp", "Hi"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^usage error: --image cat\.bmp: the name must end in \.png, \.jpg, .*\n/);
  });
});

describe("embed, models, health", () => {
  it("embed prints the model, the dimensions and the first values of each vector", async () => {
    const result = await runCli(["embed", ...server, "--model", "embedder", "first text", "second text"]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^p0\/embedder · \d+ tokens · /);
    expect(lines[1]).toMatch(/^\[0\] 8 dimensions: \[(-?\d\.\d{4}, ){5}…\]$/);
    expect(lines[2]).toMatch(/^\[1\] 8 dimensions: \[/);

    const json = await runCli(["embed", ...server, "--json", "first text"]); // the only embedding model
    expect(json.code).toBe(0);
    const reply = JSON.parse(json.stdout) as {
      model: string;
      data: { dimensions: number; embedding: number[] }[];
    };
    expect(reply.model).toBe("embedder");
    expect(reply.data[0]!.embedding).toHaveLength(8);
  });

  it("models prints a table of every model with features, availability, context window and price", async () => {
    const result = await runCli(["models", ...server]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(
      /^MODEL\s+PROVIDER\s+CHAT\s+EMBED\s+STREAM\s+AVAILABLE\s+CONTEXT\s+PRICE IN\/OUT PER 1M$/,
    );
    expect(lines[1]).toMatch(/^model-0\s+p0\s+yes\s+-\s+yes\s+yes\s+8,192\s+\$2\.00\/\$10\.00$/);
    expect(lines[2]).toMatch(/^model-1\s+p1\s+yes/);
    expect(lines[3]).toMatch(/^embedder\s+p0\s+-\s+yes\s+-\s+yes\s+8,191\s+free$/);
    expect(result.stdout).not.toContain("\u001b["); // not a terminal: no colours
  });

  it("health prints the overall verdict, a provider table and the fallback chains", async () => {
    const result = await runCli(["health", ...server]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^overall: healthy · score 1\.00$/);
    expect(lines).toContainEqual(expect.stringMatching(/^PROVIDER\s+STATUS\s+SCORE\s+REQUESTS\s+ERRORS/));
    expect(lines).toContainEqual(
      expect.stringMatching(/^p0\s+healthy\s+1\.00\s+\d+\s+\d+\s+\S+.*\s+OK\s+-$/),
    );
    expect(lines).toContainEqual(expect.stringMatching(/^main\s+healthy\s+p0\/model-0 → p1\/model-1$/));

    const one = await runCli(["health", ...server, "--provider", "p0"]);
    expect(one.code).toBe(0);
    expect(one.stdout.trimEnd().split("\n")).toHaveLength(2);
  });
});

describe("errors: one line on stderr and the exit code", () => {
  it("a typed service error exits 3 with its code, field and message", async () => {
    const result = await runCli(["chat", ...server, "--model", "no-such-model", "Hi"]);
    expect(result.code).toBe(3);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^error unknown_model \(model\): .*'no-such-model'.*\n$/);
  });

  it("a request the contract refuses exits 3 without a stack; --verbose adds the details", async () => {
    const result = await runCli(["chat", ...server, "--model", "model-0", "--temperature", "5", "Hi"]);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/^error invalid_request \(temperature\): .+\n$/);

    const verbose = await runCli([
      "chat",
      ...server,
      "--verbose",
      "--model",
      "model-0",
      "--temperature",
      "5",
      "Hi",
    ]);
    expect(verbose.code).toBe(3);
    expect(verbose.stderr).toMatch(/retryable: false/);
    expect(verbose.stderr).toMatch(/\n\s+at /);
  });

  it("no worker on the server exits 4 and says how to start one", async () => {
    const empty = await startNatsServer({ jetstream: false });
    try {
      const result = await runCli(["models", "--server", empty.url]);
      expect(result.code).toBe(4);
      expect(result.stderr).toBe(
        `error: no llm-provider worker answers on ${empty.url} (llm-provider.qry.list_models); ` +
          "start one with `bash scripts/dev.sh`\n",
      );
      const chat = await runCli(["chat", "--server", empty.url, "--model", "model-0", "Hi"]);
      expect(chat.code).toBe(4);
    } finally {
      await empty.stop();
    }
  });

  it("an unreachable NATS exits 5 with one line, never a stack trace", async () => {
    const url = `nats://127.0.0.1:${await chooseLoopbackPort()}`;
    const result = await runCli(["health"], { env: { NATS_URL: url } });
    expect(result.code).toBe(5);
    expect(result.stderr).toBe(`error: cannot connect to NATS at ${url}: connection refused\n`);
  });

  it("no reply within --timeout exits 6", async () => {
    const silent: Subscription = service.nc.subscribe("cli-test.silent", { callback: () => undefined });
    await service.nc.flush();
    try {
      const result = await runCli(["req", ...server, "--timeout", "300ms", "cli-test.silent", "{}"]);
      expect(result.code).toBe(6);
      expect(result.stderr).toMatch(/^error request_timeout: .*\n$/);
    } finally {
      silent.unsubscribe();
    }
  });

  it.each([
    [["chat", "--max-tokens", "many", "Hi"], /^usage error: --max-tokens must be a whole number/],
    [["chat", "--bogus", "Hi"], /^usage error: Unknown option '--bogus' \(see llm-provider chat --help\)/],
    [["frobnicate"], /^usage error: unknown command 'frobnicate'/],
    [["models", "--timeout", "soon"], /^usage error: --timeout must be a duration/],
    [["chat"], /^usage error: no prompt/],
    [[], /^llm-provider: /],
  ])("usage error exits 2 before connecting: %j", async (args, message) => {
    const result = await runCli([...args, "--server", "nats://127.0.0.1:1"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it("--help prints the exit codes and exits 0", async () => {
    const result = await runCli(["chat", "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: llm-provider chat/);
    expect(result.stdout).toMatch(/4 {2}no responders/);
  });
});

describe("connection flags", () => {
  it("--user/--password and NATS_USER/NATS_PASSWORD log in; a wrong password exits 5", async () => {
    const guarded = await startNatsServer({
      jetstream: false,
      extraConfig: "authorization { user: cli, password: s3cret }",
    });
    try {
      // Logged in: nothing serves there, so no responders (4), not a connection failure (5).
      const flags = await runCli(["models", "-s", guarded.url, "--user", "cli", "--password", "s3cret"]);
      expect(flags.code).toBe(4);
      const env = await runCli(["models"], {
        env: { NATS_URL: guarded.url, NATS_USER: "cli", NATS_PASSWORD: "s3cret" },
      });
      expect(env.code).toBe(4);
      const wrong = await runCli(["models", "-s", guarded.url, "--user", "cli", "--password", "nope"]);
      expect(wrong.code).toBe(5);
      expect(wrong.stderr).toMatch(
        new RegExp(`^error: cannot connect to NATS at ${guarded.url}: .*authorization.*\\n$`, "i"),
      );
    } finally {
      await guarded.stop();
    }
  });

  it("--inbox-prefix puts the replies, streamed ones too, under the given prefix", async () => {
    let replies = 0;
    const watch = service.nc.subscribe("_INBOX_cli_test.>", {
      callback: () => {
        replies++;
      },
    });
    await service.nc.flush();
    try {
      const models = await runCli(["models", ...server, "--inbox-prefix", "_INBOX_cli_test"]);
      expect(models.code).toBe(0);
      const chat = await runCli([
        "chat",
        ...server,
        "--inbox-prefix",
        "_INBOX_cli_test",
        "--model",
        "model-0",
        "Hi",
      ]);
      expect(chat).toMatchObject({ code: 0, stdout: "echo: Hi\n" });
      await service.nc.flush();
      expect(replies).toBeGreaterThan(3); // one list_models reply, then the stream's messages
    } finally {
      watch.unsubscribe();
    }
  });
});

describe("req, the raw escape hatch", () => {
  it("prints the reply's body (and headers) and exits 0", async () => {
    const result = await runCli(["req", ...server, "llm-provider.qry.list_models"]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines).toContainEqual(expect.stringMatching(/^Request-Id: \S+$/));
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ object: "list" });
  });

  it("an error reply prints its headers and body and exits 3", async () => {
    const result = await runCli([
      "req",
      ...server,
      "-H",
      "Request-Id: cli-raw-1",
      "llm-provider.cmd.complete_chat",
      '{"model":"no-such-model","messages":[{"role":"user","content":"Hi"}]}',
    ]);
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/^Nats-Service-Error-Code: 404$/m);
    expect(result.stdout).toMatch(/^Request-Id: cli-raw-1$/m);
    expect(result.stdout).toMatch(/"code":"unknown_model"/);
    expect(result.stderr).toMatch(/^error unknown_model \(model\): /);
  });

  it("a stream_chat subject prints every message up to the terminal one", async () => {
    const result = await runCli([
      "req",
      ...server,
      "llm-provider.cmd.stream_chat",
      '{"model":"model-0","messages":[{"role":"user","content":"one two three"}]}',
    ]);
    expect(result.code).toBe(0);
    const types = result.stdout
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => (JSON.parse(line) as { type: string }).type);
    expect(types.filter((type) => type === "chunk").length).toBeGreaterThan(1);
    expect(types.at(-1)).toBe("done");
  });
});

describe("npm run req", () => {
  it("runs the built CLI's req with the same exit codes", async () => {
    const body = '{"model":"model-0","messages":[]}';
    const npm = process.platform === "win32" ? "npm.cmd" : "npm";
    const refused = await runProcess(npm, [
      "run",
      "--silent",
      "req",
      "--",
      ...server,
      "llm-provider.cmd.complete_chat",
      body,
    ]);
    expect(refused.code).toBe(3);
    expect(refused.stdout).toMatch(/"code":"invalid_request"/);
    expect(refused.stderr).toMatch(/^error invalid_request \(messages\) \[POL-LLM-003\]: /m);

    const answered = await runProcess(npm, [
      "run",
      "--silent",
      "req",
      "--",
      ...server,
      "llm-provider.qry.list_models",
    ]);
    expect(answered.code).toBe(0);
    expect(answered.stdout).toMatch(/"object":"list"/);
  });
});

describe("bench", () => {
  it("sends N requests C at a time and prints p50, p99 and req/s", async () => {
    const result = await runCli(["bench", ...server, "-n", "40", "-c", "4"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^llm-provider\.qry\.list_models: 40 requests, 4 at a time, 40 ok, 0 failed$/m,
    );
    expect(result.stdout).toMatch(/^latency {3}p50 [\d.]+ m?s · p90 [\d.]+ m?s · p99 [\d.]+ m?s · max /m);
    expect(result.stdout).toMatch(/^throughput [\d.]+ req\/s/m);
  });

  it("benches complete_chat with --model", async () => {
    const result = await runCli(["bench", ...server, "--model", "model-0", "-n", "6", "-c", "2"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/complete_chat \(model-0\): 6 requests, 2 at a time, 6 ok/);
    expect(upstream.requests.filter((request) => request.path === "/v1/chat/completions")).toHaveLength(7);
  });
});

describe("spend", () => {
  it("prints the context's spend of the period, per model", async () => {
    await service.client.completeChat({ model: "model-0", messages: [{ role: "user", content: "spend" }] });
    // The per-model counts are written just after the reply.
    const result = await eventually(
      () => runCli(["spend", ...server]),
      (run) => /^model-0\s+\d+/m.test(run.stdout),
    );
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^anonymous, day \d{4}-\d{2}-\d{2}: \$[\d.]+, [\d,]+ tokens, [\d,]+ requests$/);
    expect(lines).toContainEqual(expect.stringMatching(/^MODEL\s+REQUESTS\s+TOKENS\s+USD$/));

    const past = await runCli(["spend", ...server, "--period", "month", "--date", "2020-01"]);
    expect(past).toMatchObject({ code: 0, stdout: "anonymous, month 2020-01: $0, 0 tokens, 0 requests\n" });
  });

  it("refuses a period it does not know before connecting", async () => {
    const result = await runCli(["spend", "--period", "week", "--server", "nats://127.0.0.1:1"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^usage error: --period must be day or month/);
  });
});
