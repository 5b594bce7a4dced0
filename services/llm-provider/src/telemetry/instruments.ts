import { metrics } from "@opentelemetry/api";
import type { Attributes, Counter, Meter, MetricOptions } from "@opentelemetry/api";
import { LocalHistogram, LocalHistogramProducer } from "./local-histograms.js";
import { METRIC, SCOPE } from "./semconv.js";

export interface Instruments {
  meter: Meter;
  tokenUsage: LocalHistogram;
  operationDuration: LocalHistogram;
  cost: SummingCounter;
  fallbacks: SummingCounter;
  retries: SummingCounter;
  cacheLookups: SummingCounter;
  /** Requests not served at all (rare, hostile or misconfigured): by reason and caller. */
  refusedRequests: Counter;
}

/**
 * A monotonic sum kept in the process and handed to the SDK when metrics are collected (an
 * ObservableCounter: the same exported sum as a Counter). A `Counter.add` makes the SDK sort and
 * JSON-serialise the attributes (its map key) on every call; this is one map lookup. The
 * attributes must come from a bounded set of objects reused for every call, as the callers'
 * cached attribute sets are: the sums are keyed by object identity.
 */
export interface SummingCounter {
  add(value: number, attributes: Attributes): void;
}

function createSummingCounter(meter: Meter, name: string, options: MetricOptions): SummingCounter {
  const sums = new Map<Attributes, number>();
  meter.createObservableCounter(name, options).addCallback((result) => {
    for (const [attributes, sum] of sums) result.observe(sum, attributes);
  });
  return {
    add(value, attributes) {
      sums.set(attributes, (sums.get(attributes) ?? 0) + value);
    },
  };
}

// The GenAI histograms are recorded three times per chat request: aggregated in the process and
// handed to each metric reader by a producer (see LocalHistogram), not through SDK instruments.
const tokenUsage = new LocalHistogram(METRIC.tokenUsage, {
  unit: "{token}",
  description: "Tokens used per upstream call, by gen_ai.token.type (input/output)",
  boundaries: [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576],
});
const operationDuration = new LocalHistogram(METRIC.operationDuration, {
  unit: "s",
  description: "Duration of upstream GenAI calls",
  boundaries: [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92],
});

/** A producer for one metric reader (its `metricProducers`): the GenAI histograms. */
export function createLocalHistogramProducer(): LocalHistogramProducer {
  return new LocalHistogramProducer([tokenUsage, operationDuration], { name: SCOPE });
}

let instruments: Instruments | undefined;

/**
 * The service's metric instruments, made on first use from the global meter provider — a no-op
 * one unless OpenTelemetry was started (or a test installed one before the service started).
 */
export function getInstruments(): Instruments {
  if (instruments) return instruments;
  const meter = metrics.getMeter(SCOPE);
  instruments = {
    meter,
    tokenUsage,
    operationDuration,
    cost: createSummingCounter(meter, METRIC.cost, { unit: "USD", description: "Cost of answered requests" }),
    fallbacks: createSummingCounter(meter, METRIC.fallbacks, {
      description: "Requests answered by a fallback target",
    }),
    retries: createSummingCounter(meter, METRIC.retries, {
      description: "Upstream attempts beyond the first",
    }),
    cacheLookups: createSummingCounter(meter, METRIC.cacheLookups, {
      description: "Embedding inputs looked up in the cache, by result (hit/miss)",
    }),
    refusedRequests: meter.createCounter(METRIC.requestsRefused, {
      description: "Requests not served: a reply subject that is not an inbox, or none",
    }),
  };
  return instruments;
}
