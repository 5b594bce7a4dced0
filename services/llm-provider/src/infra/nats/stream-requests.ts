import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { CancelStreamSchema, LlmProviderError, SUBJECTS } from "@llm-provider/contracts";
import type { StreamMessage } from "@llm-provider/contracts";
import type { StreamWriter } from "../../ports/request-handler.js";
import type { CallerIdentity } from "./caller-identity.js";
import type { InFlightRequest } from "./in-flight-request.js";
import { parseJsonOrUndefined } from "./request-admission.js";

/**
 * The streams in flight by caller and request id, so that a caller who stopped reading can stop
 * the upstream call — its own stream only: a cancel's caller comes from its subject, as a
 * request's does. A request id may have several here: a stream and its resumes.
 */
export class StreamRequests {
  readonly #streams = new Map<string, Set<InFlightRequest>>();
  readonly #cancellations: Subscription;

  constructor(nc: NatsConnection, callers: CallerIdentity) {
    this.#cancellations = nc.subscribe(callers.servingSubject(SUBJECTS.cancelStream), {
      callback: (_error, msg) => {
        const caller = callers.callerOf(msg.subject);
        const cancel = CancelStreamSchema.safeParse(parseJsonOrUndefined(msg.data));
        if (caller === undefined || !cancel.success) return;
        const entries = this.#streams.get(streamKey(caller, cancel.data.request_id)) ?? [];
        for (const entry of entries)
          entry.abandon.abort(new LlmProviderError("cancelled", "the caller cancelled the stream"));
      },
    });
  }

  add(entry: InFlightRequest): void {
    const key = streamKey(entry.caller, entry.requestId);
    const entries = this.#streams.get(key);
    if (entries) entries.add(entry);
    else this.#streams.set(key, new Set([entry]));
  }

  /** Removes this one only: the same request id may have others (a resume, a later stream). */
  delete(entry: InFlightRequest): void {
    const key = streamKey(entry.caller, entry.requestId);
    const entries = this.#streams.get(key);
    if (entries?.delete(entry) && entries.size === 0) this.#streams.delete(key);
  }

  /** Stops taking cancels (shutdown, after every stream was answered). */
  close(): void {
    this.#streams.clear();
    this.#cancellations.unsubscribe();
  }
}

/**
 * Where a streaming handler writes: each piece numbered and sent at once, none after the answer;
 * kept as well when the stream is resumable.
 */
export function createStreamWriter(entry: InFlightRequest): StreamWriter {
  let written = 0;
  const send = (message: StreamMessage) => {
    entry.stream?.journal?.append(message);
    entry.msg.respond(JSON.stringify(message));
  };
  return {
    get written() {
      return written;
    },
    write(delta) {
      if (entry.answered || !entry.stream) return;
      send({ type: "chunk", seq: entry.stream.seq++, request_id: entry.requestId, delta });
      written++;
    },
    restart(restart) {
      if (entry.answered || !entry.stream) return;
      send({ type: "restart", seq: entry.stream.seq++, request_id: entry.requestId, ...restart });
    },
    keep(journal) {
      if (entry.stream) entry.stream.journal = journal;
    },
  };
}

/** Neither a caller nor a request id holds a NUL: two pairs never make the same key. */
function streamKey(caller: string, requestId: string): string {
  return `${caller}\0${requestId}`;
}
