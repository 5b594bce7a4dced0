import type { StreamMessage } from "@llm-provider/contracts";

/** Where one resumable stream's messages are kept while it is produced. */
export interface StreamJournal {
  /** Keeps `message` (in seq order). Never throws: a failed write must not break the live stream. */
  append(message: StreamMessage): void;
}

/** The kept messages of resumable streams, read back by whichever worker a caller's resume reaches. */
export interface ResumableStreams {
  /**
   * A journal for the stream `requestId` of `caller`, begun (a resume finds the stream from now on).
   * Throws `invalid_request` when a stream of that request id is still kept. When the store does
   * not answer, the journal keeps nothing and the stream goes on live.
   */
  journal(caller: string, requestId: string): Promise<StreamJournal>;
  /**
   * The messages of `caller`'s stream `requestId` after `afterSeq`, kept ones first, then live ones
   * as they are written, ending with the terminal message. Throws `not_found` when nothing is kept
   * for it (unknown, expired, another caller's), `deadline_exceeded` when nothing new comes within
   * the idle timeout, `cancelled` when `signal` aborts.
   */
  follow(
    caller: string,
    requestId: string,
    afterSeq: number,
    signal: AbortSignal,
  ): AsyncIterable<StreamMessage>;
  /** Waits (up to `timeoutMs`) for the writes still under way; the number of journals left unwritten. */
  flush(timeoutMs: number): Promise<number>;
}
