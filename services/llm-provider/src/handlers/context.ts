import type { Logger } from "pino";

/** What every handler knows about the request it serves. */
export interface RequestContext {
  requestId: string;
  /** `performance.now()` when the message arrived. */
  receivedAt: number;
  log: Logger;
}

/** A handler takes the decoded JSON body and returns the reply body, or throws an `LlmProviderError`. */
export type Handler = (body: unknown, context: RequestContext) => Promise<unknown>;
