import type { NatsConnection } from "@nats-io/nats-core";
import { Svcm } from "@nats-io/services";
import type { ServedSubject } from "@llm-provider/contracts";
import type { Logger } from "pino";
import type { Endpoints, Handler, StreamEndpoint } from "../../ports/request-handler.js";
import { getInstruments } from "../../telemetry/instruments.js";
import { METRIC } from "../../telemetry/semconv.js";
import type { CallerIdentity } from "./caller-identity.js";
import { EndpointMetrics } from "./endpoint-metrics.js";
import type { FrameworkEndpointStats } from "./endpoint-metrics.js";
import { RequestDispatcher } from "./request-dispatcher.js";

export { decodeBody } from "./request-admission.js";

export interface MicroServiceOptions {
  nc: NatsConnection;
  name: string;
  version: string;
  description: string;
  /** `$SRV.INFO` metadata at start. */
  metadata?: Record<string, string>;
  queue: string;
  /** Requests handled at once by this process; more get a `busy` error at once. */
  maxInFlight: number;
  maxRequestBytes: number;
  logger: Logger;
  /** How the caller of a request is known: from the subject it arrived on. */
  callers: CallerIdentity;
  /** Reply subjects answered (an inbox); a request with any other reply subject is not served. */
  replyPrefixes: readonly string[];
  /** The live configuration's revision in force, for each request's span. */
  configRevision?: () => number | undefined;
  /** Request subject → handler. The last subject token is the endpoint name. */
  endpoints: Endpoints;
}

export interface RunningService {
  readonly id: string;
  readonly metrics: EndpointMetrics;
  inFlight(): number;
  /** Replaces what `$SRV.INFO` reports as `metadata` (e.g. the configuration revision in force). */
  setMetadata(metadata: Record<string, string>): void;
  /**
   * Stops taking requests (subscriptions drain, so requests already delivered are still served),
   * waits up to `graceMs` for the ones in flight, then answers the rest with `shutting_down`.
   */
  stop(graceMs: number): Promise<void>;
}

/**
 * The NATS micro service: discovery ($SRV.PING/INFO/STATS), one queue group, and every endpoint
 * fed to one RequestDispatcher, which bounds the requests in flight and sends the replies. The
 * framework's own counters miss async work, so `$SRV.STATS` reports the dispatcher's.
 */
export async function startMicroService(options: MicroServiceOptions): Promise<RunningService> {
  const { nc, callers } = options;
  const endpoints = Object.entries(options.endpoints) as [ServedSubject, Handler | StreamEndpoint][];
  const metrics = new EndpointMetrics(endpoints.map(([subject]) => subject));
  /** Served subject (`llm-provider.ctx.*.…` with accounts) → the request subject it serves. */
  const requestSubjectOf = new Map(endpoints.map(([subject]) => [callers.servingSubject(subject), subject]));
  const dispatcher = new RequestDispatcher({ ...options, metrics });

  const service = await new Svcm(nc).add({
    name: options.name,
    version: options.version,
    description: options.description,
    queue: options.queue,
    ...(options.metadata ? { metadata: options.metadata } : {}),
    statsHandler: (endpoint) => {
      const subject = requestSubjectOf.get(endpoint.subject) ?? endpoint.subject;
      overwriteFrameworkStats(endpoint, metrics.frameworkStats(subject));
      return Promise.resolve(metrics.snapshot(subject, dispatcher.inFlight));
    },
  });
  getInstruments()
    .meter.createObservableGauge(METRIC.requestsInFlight, { description: "Requests this worker is handling" })
    .addCallback((result) => result.observe(dispatcher.inFlight));

  for (const [subject, endpoint] of endpoints) {
    service.addEndpoint(subject.slice(subject.lastIndexOf(".") + 1), {
      subject: callers.servingSubject(subject),
      handler: (_error, msg) => dispatcher.dispatch(subject, endpoint, msg),
    });
  }

  return {
    id: service.info().id,
    metrics,
    inFlight: () => dispatcher.inFlight,
    setMetadata(metadata) {
      // The framework freezes its metadata at start but reads it from the service's config on
      // every INFO request; it has no setter, so a new frozen object takes the old one's place.
      const config = (service as unknown as { config?: { metadata?: Readonly<Record<string, string>> } })
        .config;
      if (config) config.metadata = Object.freeze({ ...metadata });
    },
    async stop(graceMs: number): Promise<void> {
      await service.stop();
      await dispatcher.drain(graceMs);
    },
  };
}

/**
 * The framework counts an error only when a handler throws synchronously and times only the
 * synchronous part, so its `num_errors`, `last_error` and processing times would say "no errors,
 * no time" for every handler here (all async). It offers no hook for them; the stats handler gets
 * the endpoint whose `stats` object it reports, so the answered requests' figures are written
 * there just before. A framework without that object is left as it is (the `data` still counts).
 */
function overwriteFrameworkStats(endpoint: object, answered: FrameworkEndpointStats | undefined): void {
  const stats = (endpoint as { stats?: unknown }).stats;
  if (!answered || typeof stats !== "object" || stats === null || !("num_errors" in stats)) return;
  Object.assign(stats, answered);
}
