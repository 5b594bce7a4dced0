import {
  findExcessiveNesting,
  HEADERS,
  LlmProviderError,
  MAX_JSON_DEPTH,
  REQUEST_ID_RULE,
} from "@llm-provider/contracts";
import type { Logger } from "pino";
import { getInstruments } from "../../telemetry/instruments.js";
import { ATTR } from "../../telemetry/semconv.js";
import type { EndpointMetrics } from "./endpoint-metrics.js";
import { UNKNOWN_CALLER } from "./in-flight-request.js";

/** What decides whether a request that has a reply subject and a free slot is served. */
export interface AdmissionCheck {
  /** Undefined: the subject's context is not one this service serves. */
  caller: string | undefined;
  validRequestId: boolean;
}

/**
 * Why a request is answered with an error before its handler runs; undefined when it is admitted.
 * The in-flight bound is checked before this, by the dispatcher (`busy-replies.ts`).
 */
export function admissionError(check: AdmissionCheck): LlmProviderError | undefined {
  if (check.caller === undefined)
    return new LlmProviderError("forbidden", "the calling context is not served by this service");
  if (!check.validRequestId) {
    const message = `${HEADERS.requestId} header must be ${REQUEST_ID_RULE}`;
    return new LlmProviderError("invalid_request", message, { field: HEADERS.requestId });
  }
  return undefined;
}

/**
 * Requests that get no answer at all: their reply subject is not an inbox (answering would
 * publish there with this worker's rights) or they have none. Counted, and logged once per caller
 * and reason so that a flood cannot flood the log.
 */
export class RefusedRequests {
  readonly #metrics: EndpointMetrics;
  readonly #logger: Logger;
  readonly #logged = new Set<string>();

  constructor(metrics: EndpointMetrics, logger: Logger) {
    this.#metrics = metrics;
    this.#logger = logger;
  }

  /** `subject`: the request subject counted; `arrivedOn`: the subject the message came on. */
  refuse(subject: string, arrivedOn: string, caller: string | undefined, reply: string | undefined): void {
    const reason = reply ? "reply_subject" : "no_reply";
    const who = caller ?? UNKNOWN_CALLER;
    this.#metrics.recordRefused(subject);
    getInstruments().refusedRequests.add(1, { [ATTR.refusalReason]: reason, [ATTR.caller]: who });
    const key = `${who}\0${reason}`;
    if (this.#logged.has(key)) return;
    this.#logged.add(key);
    this.#logger.warn(
      { caller: who, subject: arrivedOn, reason, reply: reply?.slice(0, 64) },
      reason === "no_reply"
        ? "request without a reply subject not served (logged once per caller)"
        : "request whose reply subject is not an inbox not served (logged once per caller)",
    );
  }
}

/** `fatal`: a body that is not valid UTF-8 is refused, never silently repaired with U+FFFD. */
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Size check and JSON decoding; an empty body reads as `{}` (as `nats req subject ''` sends). */
export function decodeBody(data: Uint8Array, maxBytes: number): unknown {
  if (data.length > maxBytes) {
    throw new LlmProviderError(
      "payload_too_large",
      `request is ${data.length} bytes; the limit is ${maxBytes}`,
      { details: { size: data.length, limit: maxBytes } },
    );
  }
  if (data.length === 0) return {};
  let text: string;
  try {
    text = decoder.decode(data);
  } catch {
    throw new LlmProviderError("invalid_json", "request body is not valid UTF-8");
  }
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch (error) {
    throw new LlmProviderError("invalid_json", `request body is not valid JSON: ${(error as Error).message}`);
  }
  const tooDeep = findExcessiveNesting(body);
  if (tooDeep !== undefined) {
    throw new LlmProviderError("invalid_request", `${tooDeep}: nested deeper than ${MAX_JSON_DEPTH} levels`, {
      field: tooDeep,
    });
  }
  return body;
}

/** JSON of a message that needs no limits (a cancel); undefined when it is not valid JSON. */
export function parseJsonOrUndefined(data: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(data)) as unknown;
  } catch {
    return undefined;
  }
}
