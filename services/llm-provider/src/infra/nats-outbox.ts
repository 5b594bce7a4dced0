/**
 * Sends queued until the end of the current event-loop turn, then all at once. nats.js writes
 * everything published within one task in a single socket write, so replies and stream chunks of
 * requests that finish in the same turn share one system call instead of one each. Order is kept
 * (first in, first sent); the delay is the rest of the turn, microseconds.
 *
 * Work that must not delay those replies (event publishing) goes after them: it runs in a
 * microtask queued behind nats.js's own flush, so the replies are on the wire first and the
 * events leave in a second write of the same turn.
 */
export interface Outbox {
  defer(send: () => void): void;
  deferAfterReplies(send: () => void): void;
  /** Sends what is queued now (at shutdown, before the connection drains). */
  flush(): void;
}

export function createOutbox(): Outbox {
  let replies: Array<() => void> = [];
  let after: Array<() => void> = [];
  let scheduled = false;

  function runAfter(): void {
    const batch = after;
    after = [];
    for (const send of batch) send();
  }

  function flush(): void {
    scheduled = false;
    const batch = replies;
    replies = [];
    for (const send of batch) send();
    // Queued after nats.js's flush microtask (queued by the first publish above).
    if (after.length > 0) queueMicrotask(runAfter);
  }

  function schedule(): void {
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  }

  return {
    defer(send) {
      replies.push(send);
      schedule();
    },
    deferAfterReplies(send) {
      after.push(send);
      schedule();
    },
    flush() {
      flush();
      runAfter();
    },
  };
}
