import type { Logger } from "pino";

/** What every handler knows about the request it serves. */
export interface RequestContext {
  requestId: string;
  /** `performance.now()` when the message arrived. */
  receivedAt: number;
  log: Logger;
  /** Aborted when the worker gives up on in-flight work (end of the shutdown grace period). */
  signal: AbortSignal;
  /** W3C trace context of the caller, when it sent one. */
  traceparent?: string | undefined;
}

/** A handler takes the decoded JSON body and returns the reply body, or throws an `LlmProviderError`. */
export type Handler = (body: unknown, context: RequestContext) => Promise<unknown>;
