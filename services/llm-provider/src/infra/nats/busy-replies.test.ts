import { Writable } from "node:stream";
import { Empty, headers as natsHeaders } from "@nats-io/nats-core";
import type { MsgHdrs } from "@nats-io/nats-core";
import type { ServiceMsg } from "@nats-io/services";
import { HEADERS, SUBJECTS } from "@llm-provider/contracts";
import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { BusyReplies } from "./busy-replies.js";
import { EndpointMetrics } from "./endpoint-metrics.js";

interface Sent {
  code?: number;
  description?: string;
  data: unknown;
  headers?: MsgHdrs | undefined;
}

function fakeMsg(requestId?: string, fails = false): { msg: ServiceMsg; sent: Sent[] } {
  const sent: Sent[] = [];
  let hdrs: MsgHdrs | undefined;
  if (requestId !== undefined) {
    hdrs = natsHeaders();
    hdrs.set(HEADERS.requestId, requestId);
  }
  const msg = {
    headers: hdrs,
    respondError(code: number, description: string, data: unknown, opts?: { headers?: MsgHdrs }) {
      if (fails) throw new Error("connection closed");
      sent.push({ code, description, data, headers: opts?.headers });
      return true;
    },
    respond(data: unknown) {
      sent.push({ data });
      return true;
    },
  };
  return { msg: msg as unknown as ServiceMsg, sent };
}

function setUp(level = "info") {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      callback();
    },
  });
  const metrics = new EndpointMetrics([SUBJECTS.completeChat, SUBJECTS.streamChat]);
  const busy = new BusyReplies({
    maxInFlight: 2,
    metrics,
    logger: pino({ level }, sink),
    summaryIntervalMs: 1_000,
  });
  return { busy, metrics, lines };
}

const text = (data: unknown) => new TextDecoder().decode(data as Uint8Array);
const MESSAGE = "worker has 2 requests in flight; retry shortly";
const ENVELOPE = { error: { code: "busy", message: MESSAGE, retryable: true, retry_after_ms: 100 } };

afterEach(() => {
  vi.useRealTimers();
});

describe("BusyReplies", () => {
  it("answers the typed `busy` error with the caller's Request-Id, or a new one", () => {
    const { busy, metrics } = setUp();
    const withId = fakeMsg("req-1");
    busy.reply(SUBJECTS.completeChat, withId.msg, "anonymous", false);
    expect(withId.sent).toHaveLength(1);
    const [reply] = withId.sent as [Sent];
    expect(reply).toMatchObject({ code: 503, description: MESSAGE });
    expect(JSON.parse(text(reply.data))).toEqual(ENVELOPE);
    expect(reply.headers?.get(HEADERS.requestId)).toBe("req-1");

    const withoutId = fakeMsg();
    busy.reply(SUBJECTS.completeChat, withoutId.msg, "anonymous", false);
    expect(withoutId.sent[0]?.headers?.get(HEADERS.requestId)).toMatch(/^[0-9a-f-]{36}$/);
    expect(metrics.snapshot(SUBJECTS.completeChat, 2)).toMatchObject({
      errors: 2,
      errors_by_code: { busy: 2 },
    });
  });

  it("ends a stream with one terminal error message and the sentinel", () => {
    const { busy } = setUp();
    const { msg, sent } = fakeMsg("req-2");
    busy.reply(SUBJECTS.streamChat, msg, "anonymous", true);
    expect(sent).toHaveLength(2);
    expect(sent[0]).toMatchObject({ code: 503, description: MESSAGE });
    expect(JSON.parse(sent[0]!.data as string)).toEqual({
      type: "error",
      seq: 0,
      request_id: "req-2",
      ...ENVELOPE,
      attempts: [],
    });
    expect(sent[1]?.data).toBe(Empty);
  });

  it("logs when a spell starts and sums it up per interval, not a line per answer", () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const { busy, lines } = setUp();
    for (let i = 0; i < 50; i++) busy.reply(SUBJECTS.completeChat, fakeMsg().msg, "anonymous", false);
    busy.reply(SUBJECTS.completeChat, fakeMsg().msg, "billing", false);
    expect(lines.map((line) => line["msg"])).toEqual(["in-flight bound reached: answering busy"]);

    vi.advanceTimersByTime(1_000);
    expect(lines[1]).toMatchObject({
      msg: "requests answered busy",
      busy: 51,
      not_sent: 0,
      by_caller: { anonymous: 50, billing: 1 },
      max_in_flight: 2,
    });
    // Still busy in the next interval: summed up again, no new start line.
    busy.reply(SUBJECTS.completeChat, fakeMsg().msg, "anonymous", false);
    vi.advanceTimersByTime(1_000);
    expect(lines.map((line) => line["msg"])).toEqual([
      "in-flight bound reached: answering busy",
      "requests answered busy",
      "requests answered busy",
    ]);
    // A quiet interval ends the spell; the next answer starts a new one.
    vi.advanceTimersByTime(1_000);
    expect(lines).toHaveLength(3);
    busy.reply(SUBJECTS.completeChat, fakeMsg().msg, "anonymous", false);
    expect(lines[3]?.["msg"]).toBe("in-flight bound reached: answering busy");
    busy.flush();
    expect(lines[4]).toMatchObject({ msg: "requests answered busy", busy: 1 });
  });

  it("logs each answer at debug", () => {
    const { busy, lines } = setUp("debug");
    busy.reply(SUBJECTS.completeChat, fakeMsg("req-3").msg, "anonymous", false);
    expect(lines).toContainEqual(
      expect.objectContaining({ request_id: "req-3", code: "busy", msg: MESSAGE }),
    );
  });

  it("counts a reply that could not be sent as not sent, not as answered", () => {
    const { busy, metrics, lines } = setUp();
    busy.reply(SUBJECTS.completeChat, fakeMsg("req-4", true).msg, "anonymous", false);
    busy.flush();
    expect(metrics.snapshot(SUBJECTS.completeChat, 2)).toMatchObject({ errors: 0 });
    expect(lines.at(-1)).toMatchObject({ msg: "requests answered busy", busy: 0, not_sent: 1 });
  });
});
