import { ValueType } from "@opentelemetry/api";
import type { Attributes, HrTime } from "@opentelemetry/api";
import { hrTime } from "@opentelemetry/core";
import { emptyResource } from "@opentelemetry/resources";
import { AggregationTemporality, DataPointType, InstrumentType } from "@opentelemetry/sdk-metrics";
import type {
  CollectionResult,
  DataPoint,
  Histogram,
  HistogramMetricData,
  MetricProducer,
  MetricReader,
} from "@opentelemetry/sdk-metrics";

/** One attribute set's aggregation since the process started (cumulative). */
interface Series {
  readonly attributes: Attributes;
  readonly startTime: HrTime;
  readonly counts: number[];
  sum: number;
  count: number;
  min: number;
  max: number;
}

export interface LocalHistogramOptions {
  unit: string;
  description: string;
  /** Inclusive upper bounds of the buckets, ascending; one more bucket takes what is above. */
  boundaries: readonly number[];
}

/**
 * An explicit-bucket histogram aggregated in the process and exported through a
 * `LocalHistogramProducer` — the same data an SDK histogram exports. An SDK `Histogram.record`
 * sorts and JSON-serialises the attributes (its map key) on every call, about 3 µs on the
 * benchmark's VM, three times per chat request; this is a map lookup and a bucket scan. The
 * attributes must come from a bounded set of objects reused for every call, as the callers'
 * cached attribute sets are: series are keyed by object identity.
 */
export class LocalHistogram {
  readonly series = new Map<Attributes, Series>();

  constructor(
    readonly name: string,
    readonly options: LocalHistogramOptions,
  ) {}

  record(value: number, attributes: Attributes): void {
    // As the SDK's histogram: a negative (or non-numeric) measurement is dropped.
    if (!(value >= 0) || value === Infinity) return;
    let series = this.series.get(attributes);
    if (!series) {
      series = {
        attributes,
        startTime: hrTime(),
        counts: new Array<number>(this.options.boundaries.length + 1).fill(0),
        sum: 0,
        count: 0,
        min: Infinity,
        max: -Infinity,
      };
      this.series.set(attributes, series);
    }
    const boundaries = this.options.boundaries;
    let bucket = 0;
    while (bucket < boundaries.length && value > boundaries[bucket]!) bucket++;
    series.counts[bucket]!++;
    series.sum += value;
    series.count++;
    if (value < series.min) series.min = value;
    if (value > series.max) series.max = value;
  }
}

/** What a reader was last sent of a series, to compute deltas from. */
interface Sent {
  counts: number[];
  sum: number;
  count: number;
  time: HrTime;
}

/**
 * Hands local histograms to one metric reader (a reader's `metricProducers`), in the temporality
 * that reader asks for: cumulative, or the change since its last collection (delta data points
 * carry no min/max, which a cumulative aggregation cannot give per interval).
 */
export class LocalHistogramProducer implements MetricProducer {
  #reader: MetricReader | undefined;
  readonly #sent = new Map<Series, Sent>();

  constructor(
    private readonly histograms: readonly LocalHistogram[],
    private readonly scope: { name: string; version?: string },
  ) {}

  /** The reader this producer serves; its temporality preference is asked at each collection. */
  bindTo(reader: MetricReader): void {
    this.#reader = reader;
  }

  collect(): Promise<CollectionResult> {
    const temporality =
      this.#reader?.selectAggregationTemporality(InstrumentType.HISTOGRAM) ??
      AggregationTemporality.CUMULATIVE;
    const endTime = hrTime();
    const metrics: HistogramMetricData[] = [];
    for (const histogram of this.histograms) {
      const dataPoints: DataPoint<Histogram>[] = [];
      for (const series of histogram.series.values()) {
        const point =
          temporality === AggregationTemporality.DELTA
            ? this.#delta(series, histogram.options.boundaries, endTime)
            : cumulative(series, histogram.options.boundaries, endTime);
        if (point) dataPoints.push(point);
      }
      if (dataPoints.length === 0) continue;
      metrics.push({
        descriptor: {
          name: histogram.name,
          description: histogram.options.description,
          unit: histogram.options.unit,
          valueType: ValueType.DOUBLE,
        },
        aggregationTemporality: temporality,
        dataPointType: DataPointType.HISTOGRAM,
        dataPoints,
      });
    }
    return Promise.resolve({
      // The reader keeps its SDK's resource; only the scope metrics are taken from here.
      resourceMetrics: { resource: emptyResource(), scopeMetrics: [{ scope: this.scope, metrics }] },
      errors: [],
    });
  }

  /** The change since this reader's last collection; none when nothing was recorded since. */
  #delta(series: Series, boundaries: readonly number[], endTime: HrTime): DataPoint<Histogram> | undefined {
    const sent = this.#sent.get(series);
    if (sent?.count === series.count) return undefined;
    this.#sent.set(series, {
      counts: [...series.counts],
      sum: series.sum,
      count: series.count,
      time: endTime,
    });
    return {
      attributes: series.attributes,
      startTime: sent?.time ?? series.startTime,
      endTime,
      value: {
        buckets: {
          boundaries: [...boundaries],
          counts: series.counts.map((count, bucket) => count - (sent?.counts[bucket] ?? 0)),
        },
        sum: series.sum - (sent?.sum ?? 0),
        count: series.count - (sent?.count ?? 0),
      },
    };
  }
}

function cumulative(series: Series, boundaries: readonly number[], endTime: HrTime): DataPoint<Histogram> {
  return {
    attributes: series.attributes,
    startTime: series.startTime,
    endTime,
    value: {
      buckets: { boundaries: [...boundaries], counts: [...series.counts] },
      sum: series.sum,
      count: series.count,
      min: series.min,
      max: series.max,
    },
  };
}
