/**
 * Sends queued until the end of the current event-loop turn, then all at once. nats.js writes
 * everything published within one task in a single socket write, so replies, stream chunks and
 * events of requests that finish in the same turn share one system call instead of one each.
 * Order is kept (first in, first sent); the delay is the rest of the turn, microseconds.
 */
export interface Outbox {
  defer(send: () => void): void;
  /** Sends what is queued now (at shutdown, before the connection drains). */
  flush(): void;
}

export function createOutbox(): Outbox {
  let pending: Array<() => void> = [];
  let scheduled = false;

  function flush(): void {
    scheduled = false;
    const batch = pending;
    pending = [];
    for (const send of batch) send();
  }

  return {
    defer(send) {
      pending.push(send);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}
