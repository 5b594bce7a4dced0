// Bodies a hostile or broken caller sends: nesting far past any real schema, invalid UTF-8, huge
// values, and a property-based fuzz of every subject. Each gets a typed error naming what is wrong;
// none an `internal`; the worker stays up and its memory bounded.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { headers as createHeaders } from "@nats-io/nats-core";
import type { Msg } from "@nats-io/nats-core";
import { MAX_JSON_DEPTH, SUBJECTS } from "@llm-provider/contracts";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { embedderModel, startTestService, testConfig, TEST_API_KEY } from "../support/service.js";
import type { TestService } from "../support/service.js";

let nats: NatsServerHandle;
let upstream: FakeOpenAIServer;
let service: TestService;

beforeAll(async () => {
  nats = await startNatsServer();
  upstream = await startFakeOpenAIServer({ apiKey: TEST_API_KEY, recordRequests: false });
  const config = testConfig(nats.url, [upstream.baseUrl]);
  config.models.push(embedderModel());
  service = await startTestService(config);
});

afterAll(async () => {
  await service?.stop();
  await upstream?.close();
  await nats?.stop();
});

interface ErrorBody {
  code: string;
  message: string;
  field?: string;
}

/** Sends raw bytes and returns every reply message (one, or a stream up to its sentinel). */
async function send(
  subject: string,
  body: Uint8Array | string,
  headers?: Record<string, string>,
): Promise<Msg[]> {
  const hdrs = createHeaders();
  for (const [name, value] of Object.entries(headers ?? {})) hdrs.set(name, value);
  if (subject === SUBJECTS.streamChat) {
    const replies: Msg[] = [];
    const stream = await service.nc.requestMany(subject, body, {
      strategy: "sentinel",
      maxWait: 10_000,
      headers: hdrs,
    });
    for await (const msg of stream) if (msg.data.length > 0) replies.push(msg);
    return replies;
  }
  return [await service.nc.request(subject, body, { timeout: 10_000, headers: hdrs })];
}

/** The error of a reply (the last message of a stream), or undefined for a success. */
function errorOf(replies: Msg[]): ErrorBody | undefined {
  const last = replies.at(-1);
  if (!last?.headers?.get("Nats-Service-Error-Code")) return undefined;
  return last.json<{ error: ErrorBody }>().error;
}

/** `depth` arrays around `leaf`, as JSON text (JSON.stringify itself would overflow the stack). */
function nested(depth: number, leaf = "{}"): string {
  return "[".repeat(depth) + leaf + "]".repeat(depth);
}

/** A chat body with `extra` fields; `DEEP` in their JSON stands for the nested text. */
const chat = (extra: Record<string, unknown>, deep = "") =>
  JSON.stringify({ model: "model-0", messages: [{ role: "user", content: "x" }], ...extra }).replace(
    '"DEEP"',
    deep,
  );

describe("nesting", () => {
  it("a free-form field nested past the limit is refused naming the field, on every chat subject", async () => {
    const cases: [string, string][] = [
      [
        chat(
          { tools: [{ type: "function", function: { name: "f", parameters: { deep: "DEEP" } } }] },
          nested(5_000),
        ),
        "tools[0].function.parameters.deep",
      ],
      [
        chat(
          { response_format: { type: "json_schema", json_schema: { name: "s", schema: { a: "DEEP" } } } },
          nested(5_000),
        ),
        "response_format.json_schema.schema.a",
      ],
      [chat({ metadata: { tag: "DEEP" } }, nested(100_000)), "metadata.tag"],
    ];
    for (const subject of [SUBJECTS.completeChat, SUBJECTS.streamChat]) {
      for (const [body, field] of cases) {
        const error = errorOf(await send(subject, body));
        expect(error, field).toMatchObject({ code: "invalid_request" });
        expect(error!.field!.startsWith(field), error!.field).toBe(true);
        expect(error!.message).toContain(`deeper than ${MAX_JSON_DEPTH}`);
        expect(error!.field!.length).toBeLessThanOrEqual(256);
      }
    }
    const embedding = errorOf(
      await send(SUBJECTS.generateEmbedding, `{"model":"embedder","input":${nested(5_000, '"x"')}}`),
    );
    expect(embedding).toMatchObject({ code: "invalid_request" });
    expect(embedding!.field).toMatch(/^input/);
    // A real tool schema of ordinary depth is fine.
    const ordinary = {
      type: "object",
      properties: { a: { type: "object", properties: { b: { type: "string" } } } },
    };
    expect(
      errorOf(
        await send(
          SUBJECTS.completeChat,
          chat({ tools: [{ type: "function", function: { name: "f", parameters: ordinary } }] }),
        ),
      ),
    ).toBeUndefined();
    expect(service.logs.join("")).not.toMatch(/"level":50|RangeError|Maximum call stack/);
  });
});

describe("encoding and size", () => {
  it("a body that is not valid UTF-8 is refused, not repaired", async () => {
    const prefix = new TextEncoder().encode('{"model":"model-0","messages":[{"role":"user","content":"caf');
    const suffix = new TextEncoder().encode('"}]}');
    const body = new Uint8Array([...prefix, 0xc3, 0x28, ...suffix]); // 0xC3 0x28: an invalid sequence
    const error = errorOf(await send(SUBJECTS.completeChat, body));
    expect(error).toMatchObject({ code: "invalid_json" });
    expect(error!.message).toContain("UTF-8");
    expect(upstream.requests).toHaveLength(0);
  });

  it("long caller-supplied values are cut in error bodies and logs", async () => {
    const long = "m".repeat(200);
    const unknownModel = errorOf(await send(SUBJECTS.completeChat, chat({ model: long })))!;
    expect(unknownModel.code).toBe("unknown_model");
    expect(unknownModel.message).not.toContain(long);
    expect(unknownModel.message).toContain(`'${"m".repeat(63)}…'`);
    const huge = "h".repeat(100_000);
    for (const [subject, body] of [
      [SUBJECTS.completeChat, chat({ model: huge })],
      [SUBJECTS.completeChat, chat({ [huge]: 1 })],
      [SUBJECTS.listModels, JSON.stringify({ provider_id: huge })],
      [SUBJECTS.getProviderHealth, JSON.stringify({ provider_id: huge })],
    ] as const) {
      const replies = await send(subject, body);
      const error = errorOf(replies)!;
      expect(error.code, subject).toBe("invalid_request");
      expect(replies[0]!.data.length).toBeLessThan(2_048);
    }
    const longest = Math.max(...service.logs.map((line) => line.length));
    expect(longest).toBeLessThan(4_096);
  });
});

describe("fuzz", () => {
  /** Arbitrary values in the places of every request field, and arbitrary JSON as a whole. */
  const anything = fc.oneof(
    fc.jsonValue({ maxDepth: 4 }),
    fc.string({ unit: "grapheme" }),
    fc.constant(null),
  );
  const message = fc.record(
    {
      role: fc.oneof(fc.constantFrom("system", "user", "assistant", "tool", "function"), fc.string()),
      content: fc.oneof(fc.string({ unit: "grapheme" }), anything),
      name: anything,
      tool_calls: anything,
      tool_call_id: anything,
    },
    { requiredKeys: ["role"] },
  );
  const chatBody = fc.record(
    {
      model: fc.oneof(fc.constantFrom("model-0", "embedder"), fc.string()),
      messages: fc.oneof(fc.array(message, { maxLength: 4 }), anything),
      max_tokens: fc.oneof(fc.integer(), anything),
      temperature: fc.oneof(fc.double(), anything),
      stop: anything,
      tools: anything,
      tool_choice: anything,
      response_format: anything,
      metadata: anything,
      timeout_ms: fc.oneof(fc.integer({ min: -1, max: 5_000 }), anything),
      user: anything,
    },
    { requiredKeys: [] },
  );
  const embeddingBody = fc.record(
    {
      model: fc.oneof(fc.constant("embedder"), fc.string()),
      input: fc.oneof(fc.array(fc.string({ unit: "grapheme" }), { maxLength: 5 }), anything),
      dimensions: fc.oneof(fc.integer(), anything),
      encoding_format: fc.oneof(fc.constantFrom("float", "base64"), anything),
      metadata: anything,
    },
    { requiredKeys: [] },
  );
  const queryBody = fc.record({ provider_id: fc.oneof(fc.constant("p0"), anything) }, { requiredKeys: [] });
  const subjects = {
    [SUBJECTS.completeChat]: chatBody,
    [SUBJECTS.streamChat]: chatBody,
    [SUBJECTS.generateEmbedding]: embeddingBody,
    [SUBJECTS.listModels]: queryBody,
    [SUBJECTS.getProviderHealth]: queryBody,
  };
  const body = fc.oneof(
    { weight: 6, arbitrary: fc.constant(undefined) }, // the subject's own shape
    { weight: 2, arbitrary: anything.map((value) => JSON.stringify(value)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  );
  const requestId = fc.oneof(fc.constant(undefined), fc.string({ maxLength: 140 }));

  it("no reply on any subject is ever `internal`, the worker stays up, and its memory stays bounded", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    let sent = 0;
    for (const [subject, shape] of Object.entries(subjects)) {
      await fc.assert(
        fc.asyncProperty(fc.tuple(shape, body, requestId), async ([shaped, raw, id]) => {
          const payload = raw ?? JSON.stringify(shaped);
          const headers = id === undefined ? undefined : { "Request-Id": id.replace(/[\r\n]/g, "") };
          const replies = await send(subject, payload, headers);
          sent++;
          expect(replies.length).toBeGreaterThan(0);
          expect(errorOf(replies)?.code).not.toBe("internal");
        }),
        { numRuns: 150 },
      );
    }
    // A request id alone on cancel_stream, any shape: never an answer, never a crash.
    for (const raw of fc.sample(body, 50)) service.nc.publish(SUBJECTS.cancelStream, raw ?? "{}");
    expect(sent).toBe(5 * 150);
    expect((await send(SUBJECTS.listModels, ""))[0]!.json<{ object: string }>().object).toBe("list");
    expect(service.logs.join("")).not.toMatch(/request failed unexpectedly/);
    gc();
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024);
  });
});
