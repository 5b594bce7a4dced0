import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { DiagnosticSeverity, fromFile, Parser } from "@asyncapi/parser";
import type { AsyncAPIDocumentInterface, Diagnostic } from "@asyncapi/parser";
import { beforeAll, describe, expect, it } from "vitest";
import { ChatCompletionSchema, CompleteChatSchema } from "./chat.js";
import { ERROR_CODES } from "./errors.js";
import { JSON_SCHEMA_ID_BASE, JSON_SCHEMA_SOURCES, renderJsonSchemas } from "./json-schemas.js";
import { POLICY_GATEWAY_SUBJECT } from "./policy-gateway.js";
import { EVENT_SUBJECTS, QUEUE_GROUP, SUBJECTS } from "./subjects.js";

const SCHEMAS_DIR = fileURLToPath(new URL("../schemas/", import.meta.url));
const ASYNCAPI_PATH = fileURLToPath(new URL("../asyncapi.yaml", import.meta.url));
const PACKAGE_JSON_PATH = fileURLToPath(new URL("../package.json", import.meta.url));

type JsonObject = Record<string, unknown>;

async function readSchemaFile(file: string): Promise<JsonObject> {
  return JSON.parse(await readFile(`${SCHEMAS_DIR}${file}`, "utf8")) as JsonObject;
}

function propertiesOf(schema: JsonObject): JsonObject {
  return schema["properties"] as JsonObject;
}

describe("generated JSON Schema files", () => {
  it("match the zod schemas (run npm run gen:schemas)", async () => {
    const expected = renderJsonSchemas();
    const onDisk = (await readdir(SCHEMAS_DIR)).filter((name) => name.endsWith(".json")).sort();
    expect(onDisk, "stale or missing files in contracts/schemas: run npm run gen:schemas").toEqual(
      [...expected.keys()].sort(),
    );
    for (const [file, text] of expected) {
      const current = await readFile(`${SCHEMAS_DIR}${file}`, "utf8");
      expect(current, `contracts/schemas/${file} is out of date: run npm run gen:schemas`).toBe(text);
    }
  });

  it("carry $id, title and the 2020-12 dialect", async () => {
    for (const source of JSON_SCHEMA_SOURCES) {
      const schema = await readSchemaFile(source.file);
      expect(schema["$schema"]).toBe("https://json-schema.org/draft/2020-12/schema");
      expect(schema["$id"]).toBe(`${JSON_SCHEMA_ID_BASE}${source.file}`);
      expect(schema["title"]).toBe(source.title);
    }
  });

  it("describe CompleteChat as callers send it: model and messages required, nothing unknown allowed", async () => {
    const schema = await readSchemaFile("complete-chat.json");
    expect(schema["type"]).toBe("object");
    expect(schema["required"]).toEqual(["model", "messages"]);
    expect(schema["additionalProperties"]).toBe(false);
    expect(Object.keys(propertiesOf(schema))).toEqual(Object.keys(CompleteChatSchema.shape));

    const message = (propertiesOf(schema)["messages"] as JsonObject)["items"] as JsonObject;
    expect(message["required"]).toEqual(["role"]);

    const sample = {
      model: "gpt-4o-mini",
      messages: [
        { role: "system", content: "Answer briefly." },
        { role: "user", content: "What is NATS?" },
      ],
      temperature: 0.2,
      max_tokens: 256,
      metadata: { tenant: "acme" },
    };
    for (const key of Object.keys(sample)) expect(propertiesOf(schema)).toHaveProperty(key);
    for (const item of sample.messages) {
      for (const key of Object.keys(item)) expect(propertiesOf(message)).toHaveProperty(key);
    }
    expect(CompleteChatSchema.safeParse(sample).success).toBe(true);
  });

  it("publish the input side of requests: fields with a default are optional", async () => {
    const schema = await readSchemaFile("generate-embedding.json");
    expect(schema["required"]).toEqual(["model", "input"]);
    expect(propertiesOf(schema)["encoding_format"]).toMatchObject({ default: "float" });
  });

  it("describe a ChatCompletion the zod schema accepts", async () => {
    const sample = {
      id: "cmpl_01",
      request_id: "req-1",
      created_at: "2026-01-01T00:00:00.000Z",
      model: "gpt-4o-mini",
      provider_id: "openai",
      upstream_id: "chatcmpl-abc",
      content: "A messaging system.",
      finish_reason: "stop",
      raw_finish_reason: "stop",
      usage: {
        prompt_tokens: 12,
        completion_tokens: 4,
        total_tokens: 16,
        cached_input_tokens: 0,
        cache_write_tokens: 0,
        reasoning_tokens: 0,
        cost: { currency: "USD", input: 0.0000018, output: 0.0000024, total: 0.0000042 },
      },
      latency_ms: 420,
      attempts: [{ provider_id: "openai", model: "gpt-4o-mini", outcome: "success", latency_ms: 410 }],
      warnings: [],
    };
    expect(ChatCompletionSchema.parse(sample)).toEqual(sample);

    const schema = await readSchemaFile("chat-completion.json");
    for (const key of schema["required"] as string[]) expect(sample).toHaveProperty(key);
    for (const key of Object.keys(sample)) expect(propertiesOf(schema)).toHaveProperty(key);
  });
});

describe("asyncapi.yaml", () => {
  let document: AsyncAPIDocumentInterface;
  let diagnostics: Diagnostic[];

  beforeAll(async () => {
    // `source` (set by fromFile to the absolute path) is the base the relative payload $refs
    // (./schemas/*.json) are resolved against; without it they resolve against the process cwd.
    const output = await fromFile(new Parser(), ASYNCAPI_PATH).parse();
    diagnostics = output.diagnostics;
    if (output.document === undefined) {
      throw new Error(`asyncapi.yaml does not parse:\n${JSON.stringify(output.diagnostics, null, 2)}`);
    }
    document = output.document;
  });

  it("parses with no error diagnostics", () => {
    // The parser's DiagnosticSeverity and the one in its Diagnostic type come from two copies of
    // @stoplight/types, so compare the numbers.
    const errorSeverity: number = DiagnosticSeverity.Error;
    const errors = diagnostics.filter((d) => Number(d.severity) === errorSeverity);
    expect(errors.map((d) => `${d.path.join(".")}: ${d.message}`)).toEqual([]);
    expect(document.version()).toBe("3.0.0");
  });

  it("has exactly the subjects of SUBJECTS (and the Policy Gateway's) as channel addresses", () => {
    const addresses = document
      .channels()
      .all()
      .map((channel) => channel.address())
      .filter((address): address is string => typeof address === "string");
    expect([...addresses].sort()).toEqual([...Object.values(SUBJECTS), POLICY_GATEWAY_SUBJECT].sort());
  });

  it("serves every request subject in the queue group and replies on a dynamic inbox, or with an error", () => {
    const requestSubjects = Object.values(SUBJECTS).filter(
      (s) =>
        (s.includes(".cmd.") || s.includes(".qry.") || s.includes(".admin.")) && s !== SUBJECTS.cancelStream,
    );
    for (const subject of requestSubjects) {
      const operations = document
        .operations()
        .all()
        .filter((operation) => operation.channels().all()[0]?.address() === subject);
      expect(operations, subject).toHaveLength(1);
      const operation = operations[0]!;
      expect(operation.action(), subject).toBe("receive");
      expect(operation.bindings().get("nats")?.value(), subject).toEqual({ queue: QUEUE_GROUP });
      expect(operation.bindings().get("nats")?.version(), subject).toBe("0.1.0");
      const reply = operation.reply();
      expect(reply, subject).toBeDefined();
      expect(reply?.channel()?.address(), subject).toBeNull();
      const replyNames =
        reply
          ?.messages()
          .all()
          .map((message) => message.name()) ?? [];
      expect(replyNames, subject).toContain("ErrorReply");
      expect(replyNames, subject).toHaveLength(2);
    }
  });

  it("publishes the events as send operations", () => {
    for (const subject of EVENT_SUBJECTS) {
      const operations = document
        .operations()
        .all()
        .filter((operation) => operation.channels().all()[0]?.address() === subject);
      expect(operations, subject).toHaveLength(1);
      expect(operations[0]?.action(), subject).toBe("send");
      expect(operations[0]?.description(), subject).toContain("Nats-Msg-Id");
    }
  });

  it("takes every payload from a generated JSON Schema file, and uses every file", () => {
    const used = new Set<string>();
    for (const message of document.components().messages().all()) {
      const payload = message.payload();
      expect(payload, `payload of ${message.name()}`).toBeDefined();
      if (payload === undefined) continue;
      const id = payload.$id() ?? "";
      expect(id, `payload of ${message.name()}`).toMatch(JSON_SCHEMA_ID_BASE);
      used.add(id.slice(JSON_SCHEMA_ID_BASE.length));
    }
    expect([...used].sort()).toEqual(JSON_SCHEMA_SOURCES.map((source) => source.file).sort());
  });

  it("lists every error code with its status and retryability", () => {
    const errorReply = document
      .components()
      .messages()
      .all()
      .find((message) => message.name() === "ErrorReply");
    const description = errorReply?.description() ?? "";
    for (const [code, { status, retryable }] of Object.entries(ERROR_CODES)) {
      expect(description, code).toContain(`| \`${code}\` | ${status} | ${retryable ? "yes" : "no"} |`);
    }
    const rows = description.split("\n").filter((line) => /^\| `\w+` \|/.test(line));
    expect(rows).toHaveLength(Object.keys(ERROR_CODES).length);
    expect(Object.keys(errorReply?.headers()?.properties() ?? {})).toEqual(
      expect.arrayContaining(["Nats-Service-Error", "Nats-Service-Error-Code"]),
    );
  });

  it("carries the package version", async () => {
    const pkg = JSON.parse(await readFile(PACKAGE_JSON_PATH, "utf8")) as { version: string };
    expect(document.info().version()).toBe(pkg.version);
  });
});
