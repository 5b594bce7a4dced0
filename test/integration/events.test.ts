import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { ChatCompletedSchema, ChatFailedSchema, EVENT_SUBJECTS, SUBJECTS } from "@llm-provider/contracts";
import type { ChatCompleted } from "@llm-provider/contracts";
import { pino } from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../services/llm-provider/src/config/load-config.js";
import { deriveEventId } from "../../services/llm-provider/src/domain/events.js";
import {
  createJetStreamEventPublisher,
  ensureEventStream,
} from "../../services/llm-provider/src/infra/jetstream/jetstream-events.js";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { purgeEvents, readEvents, waitForEvents } from "../support/events.js";
import { startTestService, testConfig } from "../support/service.js";
import type { TestService } from "../support/service.js";
import { until } from "../support/until.js";

let nats: NatsServerHandle;
let upstream: FakeOpenAIServer;
let service: TestService;

beforeAll(async () => {
  nats = await startNatsServer();
  upstream = await startFakeOpenAIServer();
  service = await startTestService(testConfig(nats.url, [upstream.baseUrl]));
});

afterAll(async () => {
  await service?.stop();
  await upstream?.close();
  await nats?.stop();
});

beforeEach(async () => {
  upstream.reset();
  await purgeEvents(service);
});

const secretPrompt = "my secret prompt text";
const request = {
  model: "model-0",
  messages: [{ role: "user" as const, content: secretPrompt }],
  metadata: { tenant: "acme" },
};

describe("domain events on JetStream", () => {
  it("the stream holds exactly the event subjects, never the request subjects", async () => {
    const jsm = await jetstreamManager(service.nc);
    const info = await jsm.streams.info("LLM_PROVIDER_EVENTS");
    expect([...info.config.subjects].sort()).toEqual([...EVENT_SUBJECTS].sort());
    expect(info.config.duplicate_window).toBe(120_000 * 1_000_000);
  });

  it("a reply goes out only once its event is stored (events.delivery before_reply, the default)", async () => {
    const jsm = await jetstreamManager(service.nc);
    const { config } = await jsm.streams.info("LLM_PROVIDER_EVENTS");
    await jsm.streams.delete("LLM_PROVIDER_EVENTS"); // JetStream refuses the event until it is back
    const retriesBefore = service.app.events!.stats().retries;
    let answered = false;
    const reply = service.client
      .completeChat(request, { requestId: "held-reply", timeoutMs: 20_000 })
      .finally(() => (answered = true));
    await until("the event refused", () => service.app.events!.stats().retries > retriesBefore, 10_000);
    expect(answered).toBe(false); // the answer is ready; its reply waits for the event
    await jsm.streams.add(config);
    const completion = await reply;
    expect(completion.request_id).toBe("held-reply");
    // Stored before the reply left: no waiting needed to find it.
    expect((await readEvents(service.nc)).map((stored) => stored.event.request_id)).toContain("held-reply");
    expect(service.app.events!.stats().at_risk).toBe(0);
  });

  it("a completion publishes chat_completed with ids, usage, cost and attempts — no prompt text", async () => {
    const completion = await service.client.completeChat(request, { requestId: "evt-req-1" });
    const [stored] = await waitForEvents(service.nc, (events) => events.length === 1);
    expect(stored!.subject).toBe(SUBJECTS.chatCompletedEvent);
    expect(stored!.msgId).toBe(deriveEventId(SUBJECTS.chatCompletedEvent, "anonymous", "evt-req-1"));
    const event = ChatCompletedSchema.parse(stored!.event);
    expect(event).toMatchObject({
      id: stored!.msgId,
      type: "llm-provider.chat_completed.v1",
      source: "llm-provider",
      request_id: "evt-req-1",
      data: {
        completion_id: completion.id,
        model: "model-0",
        provider_id: "p0",
        finish_reason: "stop",
        usage: completion.usage,
        attempts: completion.attempts,
        metadata: { tenant: "acme" },
      },
    });
    expect(JSON.stringify(stored!.event)).not.toContain(secretPrompt);
  });

  it("carries the caller's trace context", async () => {
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    await service.client.completeChat(request, { requestId: "evt-trace", headers: { traceparent } });
    const [stored] = await waitForEvents(service.nc, (events) => events.length === 1);
    expect(stored!.event.traceparent).toBe(traceparent);
  });

  it("a retried request (same request id) is stored once", async () => {
    await service.client.completeChat(request, { requestId: "evt-retry" });
    await service.client.completeChat(request, { requestId: "evt-retry" });
    await service.client.completeChat(request, { requestId: "evt-other" });
    const events = await waitForEvents(service.nc, (stored) => stored.length >= 2);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await readEvents(service.nc)).map((e) => e.event.request_id).sort()).toEqual([
      "evt-other",
      "evt-retry",
    ]);
    expect(events.length).toBe(2);
  });

  it("a chat that finds no answer publishes chat_failed with the error and the attempts", async () => {
    upstream.enqueue({ kind: "error", status: 400, message: "bad" });
    await service.client.completeChat(request, { requestId: "evt-fail" }).catch(() => undefined);
    const [stored] = await waitForEvents(service.nc, (events) => events.length === 1);
    const event = ChatFailedSchema.parse(stored!.event);
    expect(event.data).toMatchObject({ model: "model-0", error_code: "upstream_bad_request" });
    expect(event.data.attempts).toHaveLength(1);
  });

  it("bad input publishes nothing", async () => {
    await service.client.completeChat({ model: "model-0", messages: [] }).catch(() => undefined);
    await service.client.completeChat({ ...request, model: "nope" }).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await readEvents(service.nc)).toEqual([]);
  });

  it("NATS restarted under load: every completion's event is stored exactly once afterwards", async () => {
    const ids = Array.from({ length: 8 }, (_, index) => `restart-${index}`);
    for (const _ of ids) upstream.enqueue({ kind: "delay", ms: 400 });
    const seenBefore = upstream.requests.length;
    const calls = ids.map((requestId) =>
      service.client.completeChat(request, { requestId, timeoutMs: 3_000 }).catch(() => "no reply"),
    );
    await until("all upstream", () => upstream.requests.length === seenBefore + ids.length);
    await nats.restart();
    await Promise.all(calls);
    const events = await waitForEvents(service.nc, (stored) => stored.length >= ids.length, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const final = await readEvents(service.nc);
    expect(final.map((e) => e.event.request_id).sort()).toEqual([...ids].sort());
    expect(new Set(final.map((e) => e.msgId)).size).toBe(ids.length);
    expect(events.length).toBe(ids.length);
  });
});

describe("the event publisher while JetStream cannot take events", () => {
  let nc: NatsConnection;
  beforeAll(async () => {
    nc = await connect({ servers: nats.url });
  });
  afterAll(async () => {
    await nc?.close();
  });

  const eventsConfig = (stream: string, capacity = 100, lingerMs = 5) =>
    parseConfig(
      {
        ...testConfig(nats.url, ["http://127.0.0.1:1/v1"]),
        events: { stream, queue_capacity: capacity, linger_ms: lingerMs },
      },
      "t",
    ).events;

  function sampleEvent(requestId: string): ChatCompleted {
    return {
      id: deriveEventId(SUBJECTS.chatCompletedEvent, "anonymous", requestId),
      type: "llm-provider.chat_completed.v1",
      source: "llm-provider",
      time: new Date().toISOString(),
      request_id: requestId,
      caller: "anonymous",
      data: {
        completion_id: "c",
        model: "m",
        provider_id: "p",
        finish_reason: "stop",
        usage: {
          prompt_tokens: 1,
          completion_tokens: 1,
          total_tokens: 2,
          cached_input_tokens: 0,
          cache_write_tokens: 0,
          reasoning_tokens: 0,
          cost: { currency: "USD", input: 0, output: 0, total: 0 },
        },
        latency_ms: 1,
        attempts: [],
      },
    };
  }

  it("keeps unacknowledged events, retries them with the same id, and stores each exactly once", async () => {
    // A stream that does not exist yet: every publish is refused until it does.
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete("LLM_PROVIDER_EVENTS");
    const config = eventsConfig("LLM_PROVIDER_EVENTS");
    const logs: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => logs.push(line) });
    const publisher = createJetStreamEventPublisher(nc, config, logger);
    for (let index = 0; index < 20; index++)
      void publisher.emit(SUBJECTS.chatCompletedEvent, () => sampleEvent(`q-${index}`));
    void publisher.emit(SUBJECTS.chatCompletedEvent, () => sampleEvent("q-0")); // a duplicate
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(publisher.stats()).toMatchObject({ published: 0, dropped: 0 });
    expect(publisher.stats().retries).toBeGreaterThan(0);
    expect(logs.join("")).toContain("event not acknowledged; will retry");

    await ensureEventStream(nc, config);
    expect(await publisher.flush(15_000)).toBe(0);
    const stored = await readEvents(nc);
    expect(stored).toHaveLength(20);
    expect(new Set(stored.map((e) => e.event.request_id)).size).toBe(20);
    // Every publish that was not acknowledged was retried, not dropped.
    expect(publisher.stats()).toMatchObject({ queued: 0, in_flight: 0, published: 21, dropped: 0 });
  });

  it("a full queue drops loudly: counted and logged, never silently", async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete("LLM_PROVIDER_EVENTS");
    const config = eventsConfig("LLM_PROVIDER_EVENTS", 3);
    const logs: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => logs.push(line) });
    const publisher = createJetStreamEventPublisher(nc, config, logger);
    for (let index = 0; index < 40; index++)
      void publisher.emit(SUBJECTS.chatFailedEvent, () => sampleEvent(`full-${index}`));
    expect(publisher.stats().dropped).toBeGreaterThan(0);
    expect(logs.join("")).toContain("event queue full; event dropped");
    // They linger (linger_ms 5), so none is published yet; only the capacity was accepted.
    expect(publisher.stats()).toMatchObject({ queued: 3, in_flight: 0, dropped: 37 });
    expect(await publisher.flush(100)).toBeGreaterThan(0);
    await ensureEventStream(nc, config);
    expect(await publisher.flush(15_000)).toBe(0);
    expect(publisher.stats().published).toBe(3);
    // A builder that throws fails nothing but its own event: counted and logged.
    void publisher.emit(SUBJECTS.chatFailedEvent, () => {
      throw new Error("builder bug");
    });
    expect(publisher.stats()).toMatchObject({ queued: 0, dropped: 38 });
    expect(logs.join("")).toContain("event not built");
    publisher.close();
  });

  it("gathers events for linger_ms, then publishes them together; a full batch or flush() does not wait", async () => {
    const config = eventsConfig("LLM_PROVIDER_EVENTS", 1_000, 300);
    await ensureEventStream(nc, config);
    const jsm = await jetstreamManager(nc);
    await jsm.streams.purge("LLM_PROVIDER_EVENTS");
    const publisher = createJetStreamEventPublisher(nc, config, pino({ level: "silent" }));
    const emittedAt = performance.now();
    for (let index = 0; index < 5; index++)
      void publisher.emit(SUBJECTS.chatCompletedEvent, () => sampleEvent(`linger-${index}`));
    // Timers never fire early, so the first moment they are seen leaving is a bound a slow machine
    // keeps (less the event loop's cached clock, which a timer counts from: a few ms, 50 allowed).
    const left = await until("the lingering events leave", () => publisher.stats().queued < 5);
    expect(left - emittedAt).toBeGreaterThanOrEqual(300 - 50);
    expect(publisher.stats().queued).toBe(0); // together
    await until("5 acknowledged", () => publisher.stats().published === 5);
    expect(publisher.stats()).toMatchObject({ queued: 0, in_flight: 0, published: 5 });

    // 256 waiting end the linger at once.
    for (let index = 0; index < 256; index++)
      void publisher.emit(SUBJECTS.chatCompletedEvent, () => sampleEvent(`batch-${index}`));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(publisher.stats().queued).toBe(0);

    await until("the full batch acknowledged", () => publisher.stats().published === 5 + 256);
    publisher.close();

    // flush() (shutdown) publishes what lingers without waiting for it.
    const lingering = createJetStreamEventPublisher(
      nc,
      { ...config, linger_ms: 60_000 },
      pino({ level: "silent" }),
    );
    void lingering.emit(SUBJECTS.chatCompletedEvent, () => sampleEvent("at-shutdown"));
    const started = performance.now();
    expect(await lingering.flush(5_000)).toBe(0);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(lingering.stats().published).toBe(1);
    expect((await jsm.streams.info("LLM_PROVIDER_EVENTS")).state.messages).toBe(262);
    lingering.close();
  });

  it("before_reply: the reply's wait settles once its event is stored, or at its bound (counted at risk, still retried)", async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete("LLM_PROVIDER_EVENTS");
    const config = { ...eventsConfig("LLM_PROVIDER_EVENTS", 100, 1_000), delivery: "before_reply" as const };
    const logs: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => logs.push(line) });
    const publisher = createJetStreamEventPublisher(nc, config, logger);
    let stored = false;
    const far = performance.now() + 60_000;
    void publisher
      .emit(SUBJECTS.chatCompletedEvent, () => sampleEvent("held-1"), far)!
      .then(() => (stored = true));
    // Not lingering: its first publish is refused at once (no stream yet), and it waits.
    await until("a refused publish", () => publisher.stats().retries > 0);
    expect(stored).toBe(false);
    // A reply whose deadline is near does not wait past it: counted and logged as at risk.
    const boundedAt = performance.now();
    await publisher.emit(SUBJECTS.chatCompletedEvent, () => sampleEvent("held-2"), boundedAt + 200);
    expect(performance.now() - boundedAt).toBeGreaterThanOrEqual(150);
    expect(publisher.stats().at_risk).toBe(1);
    expect(logs.join("")).toContain("reply sent before its event was stored");

    await ensureEventStream(nc, config);
    await until("the first reply's event stored", () => stored, 15_000);
    expect(await publisher.flush(15_000)).toBe(0);
    // Both were stored in the end: at risk is not lost while the worker lives.
    expect((await readEvents(nc)).map((e) => e.event.request_id).sort()).toEqual(["held-1", "held-2"]);
    expect(publisher.stats().at_risk).toBe(1);
    publisher.close();
  });

  it("at most 256 publishes await their acknowledgement; the rest follow, stored in the order emitted", async () => {
    const config = eventsConfig("LLM_PROVIDER_EVENTS", 1_000, 0);
    await ensureEventStream(nc, config);
    const jsm = await jetstreamManager(nc);
    await jsm.streams.purge("LLM_PROVIDER_EVENTS");
    const publisher = createJetStreamEventPublisher(nc, config, pino({ level: "silent" }));
    const ids = Array.from({ length: 600 }, (_, index) => `ordered-${index}`);
    for (const id of ids) void publisher.emit(SUBJECTS.chatCompletedEvent, () => sampleEvent(id));
    // linger_ms 0: published at the end of the event-loop turn, up to the bound; an acknowledgement
    // comes in a later turn, after the check.
    expect(publisher.stats()).toMatchObject({ queued: 600, in_flight: 0 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(publisher.stats()).toMatchObject({ queued: 600 - 256, in_flight: 256, published: 0 });
    expect(await publisher.flush(15_000)).toBe(0);
    expect(publisher.stats()).toMatchObject({ queued: 0, in_flight: 0, published: 600, retries: 0 });
    expect((await readEvents(nc)).map((stored) => stored.event.request_id)).toEqual(ids);
    publisher.close();
  });
});
