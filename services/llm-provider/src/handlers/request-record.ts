import type { EventContext } from "../domain/events.js";
import { currentTraceparent } from "../telemetry/traceparent.js";
import type { RequestContext } from "../ports/request-handler.js";

/**
 * What every event of this request carries: its time (now) and trace context — our own span when
 * tracing is on, so that consumers of the event link to it; else the caller's.
 */
export function eventContextOf(context: RequestContext, includeContent: boolean): EventContext {
  return {
    requestId: context.requestId,
    caller: context.caller,
    time: new Date(),
    traceparent: currentTraceparent(context.trace) ?? context.traceparent,
    includeContent,
  };
}

/** ms since the request arrived, to the µs. */
export function elapsedMs(context: RequestContext): number {
  return Math.round((performance.now() - context.receivedAt) * 1000) / 1000;
}
