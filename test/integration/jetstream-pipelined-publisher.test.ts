import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPipelinedPublisher } from "../../services/llm-provider/src/infra/jetstream-pipelined-publisher.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";

let nats: NatsServerHandle;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "PIPE", subjects: ["pipe.>"], duplicate_window: 60_000_000_000 });
});

afterAll(async () => {
  await nc?.drain();
  await nats?.stop();
});

function publishOnce(
  publisher: ReturnType<typeof createPipelinedPublisher>,
  subject: string,
  data: string,
  msgId: string,
  traceparent?: string,
): Promise<Error | undefined> {
  return new Promise((resolve) => publisher.publish(subject, data, msgId, traceparent, resolve));
}

describe("pipelined JetStream publisher", () => {
  it("stores each message once with its headers; a re-publish with the same id is acknowledged and de-duplicated", async () => {
    const publisher = createPipelinedPublisher(nc, 2_000);
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, index) =>
        publishOnce(publisher, "pipe.a", `{"n":${index}}`, `id-${index}`, traceparent),
      ),
    );
    expect(results.every((error) => error === undefined)).toBe(true);
    expect(await publishOnce(publisher, "pipe.a", `{"n":0}`, "id-0")).toBeUndefined();
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info("PIPE")).state.messages).toBe(500);
    const stored = await jsm.streams.getMessage("PIPE", { seq: 42 });
    expect(stored?.header.get("Nats-Msg-Id")).toBe("id-41");
    expect(stored?.header.get("traceparent")).toBe(traceparent);
    expect(stored?.string()).toBe(`{"n":41}`);
    // A publish without trace context carries none of the last one's.
    expect(await publishOnce(publisher, "pipe.a", `{"n":500}`, "id-500")).toBeUndefined();
    const untraced = await jsm.streams.getMessage("PIPE", { seq: 501 });
    expect(untraced?.header.get("Nats-Msg-Id")).toBe("id-500");
    expect(untraced?.header.has("traceparent")).toBe(false);
    publisher.close();
  });

  it("reports a header nats.js refuses through done, once, and keeps nothing of it", async () => {
    const publisher = createPipelinedPublisher(nc, 300);
    const calls: (Error | undefined)[] = [];
    publisher.publish("pipe.b", "{}", "id-bad", "00-bad\r\nInjected: yes", (error) => calls.push(error));
    expect(calls).toEqual([]); // asynchronous, as every other outcome
    await new Promise((resolve) => setTimeout(resolve, 600)); // past the publish timeout
    expect(calls).toHaveLength(1);
    expect(calls[0]).toBeInstanceOf(Error);
    expect(await publishOnce(publisher, "pipe.b", "{}", "id-good")).toBeUndefined();
    const jsm = await jetstreamManager(nc);
    const stored = await jsm.streams.getMessage("PIPE", { last_by_subj: "pipe.b" });
    expect(stored?.header.get("Nats-Msg-Id")).toBe("id-good");
    publisher.close();
  });

  it("reports a subject no stream captures at once (no responders), not after the timeout", async () => {
    const publisher = createPipelinedPublisher(nc, 10_000);
    const started = performance.now();
    const error = await publishOnce(publisher, "nostream.x", "{}", "n-1");
    expect(error?.message).toMatch(/JetStream unavailable: 503/);
    expect(performance.now() - started).toBeLessThan(1_000);
    publisher.close();
  });

  it("ends a publish nobody acknowledges after the timeout, and ignores an ack that comes later", async () => {
    // A plain subscriber takes the message and answers late, as a slow stream leader might.
    const lateReplies: Array<() => void> = [];
    const sub = nc.subscribe("silent.>", {
      callback: (_error, msg) => {
        lateReplies.push(() => msg.respond(`{"stream":"X","seq":1}`));
      },
    });
    await nc.flush();
    const publisher = createPipelinedPublisher(nc, 150);
    const started = performance.now();
    const outcomes: Array<Error | undefined> = [];
    const first = new Promise<void>((resolve) =>
      publisher.publish("silent.a", "{}", "s-1", undefined, (error) => {
        outcomes.push(error);
        resolve();
      }),
    );
    await first;
    const waited = performance.now() - started;
    expect(outcomes[0]?.message).toMatch(/no acknowledgement within 150 ms/);
    expect(waited).toBeGreaterThanOrEqual(145);
    expect(waited).toBeLessThan(1_000);
    for (const reply of lateReplies) reply();
    await nc.flush();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(outcomes).toHaveLength(1); // the late ack called nothing
    sub.unsubscribe();
    publisher.close();
  });

  it("close() ends publishes still waiting, and refuses new ones", async () => {
    const sub = nc.subscribe("hold.>", { callback: () => undefined });
    await nc.flush();
    const publisher = createPipelinedPublisher(nc, 60_000);
    const waiting = publishOnce(publisher, "hold.a", "{}", "h-1");
    publisher.close();
    expect((await waiting)?.message).toBe("publisher closed");
    expect((await publishOnce(publisher, "pipe.a", "{}", "h-2"))?.message).toBe("publisher closed");
    sub.unsubscribe();
  });
});
