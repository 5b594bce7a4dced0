import type { DomainEvent, EventSubject } from "@llm-provider/contracts";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { EventPublishQueue } from "./jetstream-event-queue.js";
import type { QueuedEvent } from "./jetstream-event-queue.js";

const SUBJECT = "llm-provider.chat_completed.v1" as EventSubject;

interface Call {
  data: string;
  settle: (error?: Error) => void;
}

/** A publish that settles only when the test says so. */
function controlledPublish() {
  const calls: Call[] = [];
  const publish = (_subject: EventSubject, data: string) =>
    new Promise<void>((resolve, reject) => {
      calls.push({ data, settle: (error) => (error ? reject(error) : resolve()) });
    });
  return { calls, publish };
}

function queued(id: string): QueuedEvent {
  return { subject: SUBJECT, event: { id } as DomainEvent };
}

describe("EventPublishQueue", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function createQueue(
    publish: ReturnType<typeof controlledPublish>["publish"],
    lingerMs = 0,
    maxInFlight = 2,
  ) {
    return new EventPublishQueue({
      publish,
      maxInFlight,
      lingerMs,
      lingerBatch: 3,
      logger: pino({ level: "silent" }),
    });
  }

  it("keeps at most maxInFlight publishes open; the next leaves when one is acknowledged", async () => {
    const { calls, publish } = controlledPublish();
    const queue = createQueue(publish);
    for (const id of ["a", "b", "c"]) queue.add(queued(id), false);
    expect(calls).toHaveLength(0); // at the end of the turn
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.map((call) => JSON.parse(call.data) as { id: string })).toEqual([{ id: "a" }, { id: "b" }]);
    expect([queue.queued, queue.inFlight]).toEqual([1, 2]);
    calls[0]!.settle();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(3);
    expect([queue.queued, queue.inFlight, queue.published]).toEqual([0, 2, 1]);
  });

  it("puts a refused event back in front and retries it, with the same data, after a backoff that pauses the queue", async () => {
    const { calls, publish } = controlledPublish();
    const queue = createQueue(publish, 0, 1);
    queue.add(queued("a"), false);
    queue.add(queued("b"), false);
    await vi.advanceTimersByTimeAsync(0);
    calls[0]!.settle(new Error("no responders"));
    await vi.advanceTimersByTimeAsync(0);
    expect([calls.length, queue.queued, queue.retries]).toEqual([1, 2, 1]);
    await vi.advanceTimersByTimeAsync(100);
    expect(calls.map((call) => call.data)).toEqual([calls[0]!.data, calls[0]!.data]);
    calls[1]!.settle();
    await vi.advanceTimersByTimeAsync(0);
    expect(JSON.parse(calls[2]!.data)).toEqual({ id: "b" });
  });

  it("lingers events no reply waits for, until linger_ms, a full batch, an urgent event or a flush", async () => {
    const { calls, publish } = controlledPublish();
    const queue = createQueue(publish, 50, 10);
    queue.add(queued("a"), false);
    await vi.advanceTimersByTimeAsync(49);
    expect(calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(1);

    for (const id of ["b", "c"]) queue.add(queued(id), false);
    expect(calls).toHaveLength(1);
    queue.add(queued("d"), false); // the batch of 3 is full: they leave at the end of the turn
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(4);

    queue.add(queued("e"), false);
    queue.add(queued("f"), true); // a reply waits for it: everything before it leaves too
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(6);

    queue.add(queued("g"), false);
    const flushed = queue.flush(1_000);
    expect(calls).toHaveLength(7);
    for (const call of calls) call.settle();
    expect(await flushed).toBe(0);
    expect(queue.published).toBe(7);
  });

  it("settles a waiting reply once its event is acknowledged, and a flush with what is left at its timeout", async () => {
    const { calls, publish } = controlledPublish();
    const queue = createQueue(publish);
    const event = queued("a");
    let stored = false;
    event.stored = () => (stored = true);
    queue.add(event, true);
    const flushed = queue.flush(200); // publishes at once
    await vi.advanceTimersByTimeAsync(200);
    expect([await flushed, stored]).toEqual([1, false]);
    calls[0]!.settle();
    await vi.advanceTimersByTimeAsync(0);
    expect(stored).toBe(true);
    queue.close();
  });
});
