import { headers as createHeaders } from "@nats-io/nats-core";
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import { plainAckSequence } from "./jetstream-ack.js";
import { createNumberedInbox } from "./numbered-inbox.js";
import { SequenceRing } from "./sequence-ring.js";

/** How a publish ended: acknowledged by the stream, or why not. */
export type PublishDone = (error?: Error) => void;

export interface PipelinedPublisher {
  /** Publishes with `Nats-Msg-Id` = `msgId`; `done` is called once: on the ack, a refusal or the timeout. */
  publish(
    subject: string,
    data: string,
    msgId: string,
    traceparent: string | undefined,
    done: PublishDone,
  ): void;
  /** Ends the ack subscription; publishes still waiting end with an error. */
  close(): void;
}

interface Waiting {
  done: PublishDone;
  sentAt: number;
}

/**
 * JetStream publishes with their acks on one subscription instead of one request each. A
 * `js.publish` makes a request object, a timer and (on every reply) an Error per message; here
 * a publish is one PUB with a reply token, and a single timer, armed only while acks are awaited,
 * ends the overdue ones. Acks arrive on `<inbox>.<token>`; an ack that comes after its publish
 * timed out is ignored (the caller retries with the same msg id, which the stream de-duplicates).
 */
export function createPipelinedPublisher(nc: NatsConnection, timeoutMs: number): PipelinedPublisher {
  const inbox = createNumberedInbox();
  // By publish number (the reply subject's), oldest first: the overdue ones are in front.
  const waiting = new SequenceRing<Waiting>();
  let sweepTimer: NodeJS.Timeout | undefined;
  let closed = false;

  const subscription: Subscription = nc.subscribe(inbox.wildcard, {
    callback: (error, msg) => {
      if (error) return; // the subscription ends with the connection; close() settles the rest
      onAck(msg);
    },
  });

  function onAck(msg: Msg): void {
    const entry = waiting.take(inbox.sequenceOf(msg.subject));
    entry?.done(ackError(msg));
  }

  function sweep(): void {
    sweepTimer = undefined;
    const overdueBefore = performance.now() - timeoutMs;
    for (
      let oldest = waiting.oldest();
      oldest && oldest.value.sentAt <= overdueBefore;
      oldest = waiting.oldest()
    ) {
      waiting.take(oldest.sequence);
      oldest.value.done(new Error(`no acknowledgement within ${timeoutMs} ms`));
    }
    armSweep();
  }

  function armSweep(): void {
    if (sweepTimer || waiting.size === 0 || closed) return;
    const oldest = waiting.oldest()!.value;
    const wait = Math.max(0, oldest.sentAt + timeoutMs - performance.now());
    sweepTimer = setTimeout(sweep, wait + 1);
    sweepTimer.unref();
  }

  return {
    publish(subject, data, msgId, traceparent, done) {
      // Failures known at once are still reported asynchronously: callers may publish in a loop.
      if (closed) {
        queueMicrotask(() => done(new Error("publisher closed")));
        return;
      }
      const sequence = waiting.push({ done, sentAt: performance.now() });
      try {
        // Headers of its own: nats.js's `set` deletes and re-adds the key, so one object reused
        // for every publish churned its Map, which kept each value alive into the old generation.
        const hdrs = createHeaders();
        hdrs.set("Nats-Msg-Id", msgId);
        if (traceparent) hdrs.set("traceparent", traceparent);
        nc.publish(subject, data, { reply: inbox.replySubject(sequence), headers: hdrs });
      } catch (error) {
        waiting.take(sequence);
        queueMicrotask(() => done(error as Error)); // closed or draining connection, bad header
        return;
      }
      armSweep();
    },
    close() {
      closed = true;
      if (sweepTimer) clearTimeout(sweepTimer);
      subscription.unsubscribe();
      for (const entry of waiting.drain()) entry.done(new Error("publisher closed"));
    },
  };
}

/** Undefined for a stream ack (a duplicate one included); otherwise what refused the publish. */
function ackError(msg: Msg): Error | undefined {
  if (plainAckSequence(msg) !== undefined) return undefined; // the common case
  // No stream listens (503) or the server answered with another status instead of an ack.
  if (msg.headers?.hasError)
    return new Error(`JetStream unavailable: ${msg.headers.code} ${msg.headers.description}`);
  let ack: { stream?: string; error?: { code?: number; description?: string } };
  try {
    ack = JSON.parse(msg.string()) as typeof ack;
  } catch {
    return new Error("malformed JetStream acknowledgement");
  }
  if (ack.error) return new Error(`JetStream refused the event: ${ack.error.code} ${ack.error.description}`);
  return ack.stream ? undefined : new Error("unexpected JetStream acknowledgement");
}
