import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { CancelStreamSchema, LlmProviderError, SUBJECTS } from "@llm-provider/contracts";
import type { StreamChunk, StreamRestart } from "@llm-provider/contracts";
import type { StreamWriter } from "../../ports/request-handler.js";
import type { CallerIdentity } from "./caller-identity.js";
import type { InFlightRequest } from "./in-flight-request.js";
import { parseJsonOrUndefined } from "./request-admission.js";

/**
 * The streams in flight by caller and request id, so that a caller who stopped reading can stop
 * the upstream call — its own stream only: a cancel's caller comes from its subject, as a
 * request's does.
 */
export class StreamRequests {
  readonly #streams = new Map<string, InFlightRequest>();
  readonly #cancellations: Subscription;

  constructor(nc: NatsConnection, callers: CallerIdentity) {
    this.#cancellations = nc.subscribe(callers.servingSubject(SUBJECTS.cancelStream), {
      callback: (_error, msg) => {
        const caller = callers.callerOf(msg.subject);
        const cancel = CancelStreamSchema.safeParse(parseJsonOrUndefined(msg.data));
        if (caller === undefined || !cancel.success) return;
        const entry = this.#streams.get(streamKey(caller, cancel.data.request_id));
        entry?.abandon.abort(new LlmProviderError("cancelled", "the caller cancelled the stream"));
      },
    });
  }

  add(entry: InFlightRequest): void {
    this.#streams.set(streamKey(entry.caller, entry.requestId), entry);
  }

  /** The same caller may reuse a request id for a later stream: removes only this one. */
  delete(entry: InFlightRequest): void {
    const key = streamKey(entry.caller, entry.requestId);
    if (this.#streams.get(key) === entry) this.#streams.delete(key);
  }

  /** Stops taking cancels (shutdown, after every stream was answered). */
  close(): void {
    this.#streams.clear();
    this.#cancellations.unsubscribe();
  }
}

/** Where a streaming handler writes: each piece numbered and sent at once, none after the answer. */
export function createStreamWriter(entry: InFlightRequest): StreamWriter {
  let written = 0;
  const send = (message: StreamChunk | StreamRestart) => entry.msg.respond(JSON.stringify(message));
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
  };
}

/** Neither a caller nor a request id holds a NUL: two pairs never make the same key. */
function streamKey(caller: string, requestId: string): string {
  return `${caller}\0${requestId}`;
}
