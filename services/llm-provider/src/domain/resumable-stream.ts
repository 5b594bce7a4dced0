import { RESUMABLE_STREAM_PREFIX } from "@llm-provider/contracts";
import type { StreamMessage } from "@llm-provider/contracts";
import { hashParts } from "./hash-parts.js";

/**
 * Where a resumable stream's messages are kept: one subject per caller and request. The caller is
 * the subject's own token (so a caller's resume only ever looks under its own name) and the
 * request id is hashed (it may hold characters a subject token cannot).
 */
export function resumableSubject(caller: string, requestId: string): string {
  return `${RESUMABLE_STREAM_PREFIX}${caller}.${hashParts([requestId])}`;
}

/** Whether `message` ends its stream: nothing follows it. */
export function isTerminal(message: Pick<StreamMessage, "type">): boolean {
  return message.type === "done" || message.type === "error";
}

/** One batch ready to be written: its first seq, and the messages as a JSON array. */
export interface SealedBatch {
  firstSeq: number;
  lastSeq: number;
  json: string;
  terminal: boolean;
}

/**
 * The messages of a stream gathered into batches, so that a stream of many small chunks costs a
 * few JetStream writes. The caller decides when time is up (`seal`); a batch reaching `maxBytes`
 * or holding the terminal message is due at once (`add` says so).
 */
export class MessageBatcher {
  readonly #maxBytes: number;
  #parts: string[] = [];
  #bytes = 0;
  #firstSeq = -1;
  #lastSeq = -1;
  #terminal = false;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  get empty(): boolean {
    return this.#parts.length === 0;
  }

  /** Adds one message (in seq order); true when the batch is due now. */
  add(message: StreamMessage): boolean {
    const json = JSON.stringify(message);
    if (this.#parts.length === 0) this.#firstSeq = message.seq;
    this.#parts.push(json);
    this.#lastSeq = message.seq;
    // Bytes of the JSON array: the parts, their commas and the brackets.
    this.#bytes += Buffer.byteLength(json) + 1;
    if (isTerminal(message)) this.#terminal = true;
    return this.#terminal || this.#bytes + 1 >= this.#maxBytes;
  }

  /** The batch so far, and a new empty one begun; undefined when there is nothing. */
  seal(): SealedBatch | undefined {
    if (this.#parts.length === 0) return undefined;
    const batch = {
      firstSeq: this.#firstSeq,
      lastSeq: this.#lastSeq,
      json: `[${this.#parts.join(",")}]`,
      terminal: this.#terminal,
    };
    this.#parts = [];
    this.#bytes = 0;
    this.#terminal = false;
    return batch;
  }
}

/** A kept batch that is not what the cursor can continue with. */
export class BrokenStreamError extends Error {}

/**
 * Reads kept batches (in the order they were written) for a caller that holds every message up
 * to `afterSeq`: yields each later message once, in seq order, and says when the stream ended.
 * A batch the cursor already holds (written twice) is skipped; a missing message is an error,
 * never a silent gap.
 */
export class ResumeCursor {
  #next: number;
  #ended = false;

  constructor(afterSeq: number) {
    this.#next = afterSeq + 1;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** The messages of `batch` the caller does not hold yet. */
  take(batch: readonly StreamMessage[]): StreamMessage[] {
    const fresh: StreamMessage[] = [];
    for (const message of batch) {
      if (this.#ended || message.seq < this.#next) continue;
      if (message.seq > this.#next)
        throw new BrokenStreamError(
          `kept stream lost messages: expected seq ${this.#next}, got ${message.seq}`,
        );
      fresh.push(message);
      this.#next++;
      if (isTerminal(message)) this.#ended = true;
    }
    return fresh;
  }
}
