import { Empty, headers as createHeaders } from "@nats-io/nats-core";
import type { ServiceMsg } from "@nats-io/services";
import { HEADERS, LlmProviderError } from "@llm-provider/contracts";
import type { ErrorBody, ServedSubject } from "@llm-provider/contracts";
import type { Logger } from "pino";
import { getInstruments } from "../../telemetry/instruments.js";
import { ATTR } from "../../telemetry/semconv.js";
import type { EndpointMetrics } from "./endpoint-metrics.js";
import { requestIdOf } from "./in-flight-request.js";

/** How often a spell of `busy` answers is summed up in the log while it lasts. */
export const BUSY_SUMMARY_INTERVAL_MS = 10_000;

export interface BusyRepliesOptions {
  maxInFlight: number;
  metrics: EndpointMetrics;
  logger: Logger;
  summaryIntervalMs?: number;
}

/** `busy` answers since the last summary line. */
interface Spell {
  since: number;
  answered: number;
  notSent: number;
  byCaller: Map<string, number>;
}

/**
 * The `busy` answer to a request over the in-flight bound. A burst sheds thousands of requests
 * at once, on the event loop the admitted ones need, so a refusal must cost far less than serving:
 * no SERVER span (a span each would also crowd the admitted requests' spans out of the batch
 * processor's bounded queue), no error object, the body encoded once, and one log line when a
 * spell starts plus a summary per interval instead of a line each (`debug` still logs each). The
 * reply is the same typed `busy` error reply as any other, counted in `$SRV.STATS` and in a metric.
 */
export class BusyReplies {
  readonly #metrics: EndpointMetrics;
  readonly #logger: Logger;
  readonly #maxInFlight: number;
  readonly #intervalMs: number;
  readonly #status: number;
  readonly #description: string;
  readonly #errorBody: ErrorBody;
  readonly #body: Uint8Array;
  #spell: Spell | undefined;
  /** Busy answers by caller not yet added to the metric: added once per batch, not per answer. */
  readonly #unrecorded = new Map<string, number>();
  #summaryTimer: NodeJS.Timeout | undefined;

  constructor(options: BusyRepliesOptions) {
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#maxInFlight = options.maxInFlight;
    this.#intervalMs = options.summaryIntervalMs ?? BUSY_SUMMARY_INTERVAL_MS;
    const error = new LlmProviderError(
      "busy",
      `worker has ${options.maxInFlight} requests in flight; retry shortly`,
      { retryAfterMs: 100 },
    );
    this.#status = error.status;
    this.#description = error.message;
    this.#errorBody = error.toBody();
    this.#body = new TextEncoder().encode(JSON.stringify({ error: this.#errorBody }));
  }

  /** Answers `busy`: one reply (a stream's terminal error message and its sentinel), no handler. */
  reply(subject: ServedSubject, msg: ServiceMsg, caller: string, streaming: boolean): void {
    const started = performance.now();
    const { requestId } = requestIdOf(msg);
    const hdrs = createHeaders();
    hdrs.set(HEADERS.requestId, requestId);
    try {
      if (streaming) {
        const terminal = {
          type: "error",
          seq: 0,
          request_id: requestId,
          error: this.#errorBody,
          attempts: [],
        };
        msg.respondError(this.#status, this.#description, JSON.stringify(terminal), { headers: hdrs });
        msg.respond(Empty);
      } else {
        msg.respondError(this.#status, this.#description, this.#body, { headers: hdrs });
      }
    } catch {
      // The connection is closed or draining: nobody can be answered; the caller's timeout tells it.
      this.#count(caller).notSent++;
      return;
    }
    this.#metrics.recordError(subject, "busy", this.#description, performance.now() - started);
    if (this.#unrecorded.size === 0) setImmediate(() => this.#record());
    this.#unrecorded.set(caller, (this.#unrecorded.get(caller) ?? 0) + 1);
    this.#count(caller).answered++;
    if (this.#logger.isLevelEnabled("debug"))
      this.#logger.debug({ request_id: requestId, subject, caller, code: "busy" }, this.#description);
  }

  /** Logs what the current spell has not logged yet (at shutdown). */
  flush(): void {
    this.#record();
    clearTimeout(this.#summaryTimer);
    this.#summaryTimer = undefined;
    this.#summarize();
  }

  #record(): void {
    const counter = getInstruments().busyRequests;
    for (const [caller, answered] of this.#unrecorded) counter.add(answered, { [ATTR.caller]: caller });
    this.#unrecorded.clear();
  }

  #count(caller: string): Spell {
    let spell = this.#spell;
    if (!spell) {
      spell = this.#spell = { since: performance.now(), answered: 0, notSent: 0, byCaller: new Map() };
      if (!this.#summaryTimer) {
        // A new spell: said at once, then summed up while it lasts.
        this.#logger.warn(
          { max_in_flight: this.#maxInFlight, caller, summary_every_ms: this.#intervalMs },
          "in-flight bound reached: answering busy",
        );
        this.#scheduleSummary();
      }
    }
    spell.byCaller.set(caller, (spell.byCaller.get(caller) ?? 0) + 1);
    return spell;
  }

  #scheduleSummary(): void {
    this.#summaryTimer = setTimeout(() => {
      this.#summaryTimer = undefined;
      // A quiet interval ends the spell: the next busy answer starts a new one.
      if (this.#summarize()) this.#scheduleSummary();
    }, this.#intervalMs);
    this.#summaryTimer.unref();
  }

  /** One line for the spell so far; false when there was nothing to say. */
  #summarize(): boolean {
    const spell = this.#spell;
    this.#spell = undefined;
    if (!spell) return false;
    this.#logger.warn(
      {
        busy: spell.answered,
        not_sent: spell.notSent,
        by_caller: Object.fromEntries(spell.byCaller),
        over_ms: Math.round(performance.now() - spell.since),
        max_in_flight: this.#maxInFlight,
      },
      "requests answered busy",
    );
    return true;
  }
}
