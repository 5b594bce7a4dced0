/**
 * Sends queued until the end of the current event-loop turn, then all at once. nats.js writes
 * everything published within one task in a single socket write, so replies and stream chunks of
 * requests that finish in the same turn share one system call instead of one each. Order is kept
 * (first in, first sent); the delay is the rest of the turn, microseconds.
 *
 * Work that may wait for the next replies (event publishing) rides along with them: it runs right
 * after they are handed to nats.js, so it goes out in the same write, behind them, instead of
 * costing a write and a wake-up of its own (on a VM, tens of µs of CPU each).
 */
export interface Outbox {
  defer(send: () => void): void;
  /**
   * Runs `send` right after the next batch of replies, in their socket write. Schedules nothing:
   * when no replies come, nothing runs, so a caller that must send anyway keeps its own deadline.
   */
  withNextReplies(send: () => void): void;
  /** Sends what is queued now (at shutdown, before the connection drains). */
  flush(): void;
}

export function createOutbox(): Outbox {
  let replies: Array<() => void> = [];
  let riders: Array<() => void> = [];
  let scheduled = false;

  function flush(): void {
    scheduled = false;
    const batch = replies;
    replies = [];
    for (const send of batch) send();
    // Before nats.js's flush (a microtask queued by the first publish above): same write.
    if (riders.length === 0) return;
    const riding = riders;
    riders = [];
    for (const send of riding) send();
  }

  return {
    defer(send) {
      replies.push(send);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    withNextReplies(send) {
      riders.push(send);
    },
    flush,
  };
}
