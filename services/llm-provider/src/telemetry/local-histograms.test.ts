import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import type { HistogramMetricData, MetricData } from "@opentelemetry/sdk-metrics";
import { describe, expect, it } from "vitest";
import { LocalHistogram, LocalHistogramProducer } from "./local-histograms.js";

const BOUNDARIES = [1, 10, 100];
const VALUES = [0, 1, 1.5, 10, 10.01, 99, 100, 1_000, 5, -3];

/** A local histogram and an SDK histogram with the same buckets, read by one reader. */
function setUp(temporality: AggregationTemporality) {
  const local = new LocalHistogram("local.histogram", {
    unit: "s",
    description: "recorded locally",
    boundaries: BOUNDARIES,
  });
  const producer = new LocalHistogramProducer([local], { name: "test-scope" });
  const exporter = new InMemoryMetricExporter(temporality);
  const reader = new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: 3_600_000,
    metricProducers: [producer],
  });
  producer.bindTo(reader);
  const provider = new MeterProvider({ readers: [reader] });
  const sdk = provider
    .getMeter("test-scope")
    .createHistogram("sdk.histogram", { advice: { explicitBucketBoundaries: BOUNDARIES } });
  const collect = async (): Promise<MetricData[]> => {
    const { resourceMetrics, errors } = await reader.collect();
    expect(errors).toEqual([]);
    return resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);
  };
  return { local, sdk, collect };
}

const byName = (metrics: MetricData[], name: string) =>
  metrics.find((metric) => metric.descriptor.name === name) as HistogramMetricData | undefined;

describe("LocalHistogram", () => {
  const small = { route: "a" };
  const large = { route: "b" };

  it("exports the same buckets, sum, count, min and max as the SDK's histogram", async () => {
    const { local, sdk, collect } = setUp(AggregationTemporality.CUMULATIVE);
    for (const value of VALUES) {
      local.record(value, value < 50 ? small : large);
      sdk.record(value, value < 50 ? small : large);
    }
    const metrics = await collect();
    const ours = byName(metrics, "local.histogram")!;
    const theirs = byName(metrics, "sdk.histogram")!;
    expect(ours.dataPointType).toBe(DataPointType.HISTOGRAM);
    expect(ours.aggregationTemporality).toBe(AggregationTemporality.CUMULATIVE);
    expect(ours.descriptor).toMatchObject({ unit: "s", description: "recorded locally" });
    for (const attributes of [small, large]) {
      const point = (metric: HistogramMetricData) =>
        metric.dataPoints.find((candidate) => candidate.attributes["route"] === attributes.route)!.value;
      expect(point(ours)).toEqual(point(theirs));
    }
    // Upper bounds are inclusive: 1 lands in the first bucket, 10 in the second, 100 in the third.
    const smallPoint = ours.dataPoints.find((point) => point.attributes === small)!.value;
    expect(smallPoint.buckets.counts).toEqual([2, 3, 1, 0]); // 0, 1 | 1.5, 10, 5 | 10.01; -3 dropped
    expect(smallPoint).toMatchObject({ count: 6, min: 0, max: 10.01 });
  });

  it("keeps accumulating across collections (cumulative)", async () => {
    const { local, collect } = setUp(AggregationTemporality.CUMULATIVE);
    local.record(5, small);
    await collect();
    local.record(50, small);
    const point = byName(await collect(), "local.histogram")!.dataPoints[0]!;
    expect(point.value).toMatchObject({ count: 2, sum: 55, min: 5, max: 50 });
  });

  it("reports only what changed since the reader's last collection when it asks for deltas", async () => {
    const { local, sdk, collect } = setUp(AggregationTemporality.DELTA);
    local.record(5, small);
    local.record(500, large);
    const first = byName(await collect(), "local.histogram")!;
    expect(first.aggregationTemporality).toBe(AggregationTemporality.DELTA);
    expect(first.dataPoints).toHaveLength(2);

    for (const value of [2, 20]) {
      local.record(value, small);
      sdk.record(value, small);
    }
    const metrics = await collect();
    const second = byName(metrics, "local.histogram")!;
    // Nothing new for `large`: no data point. For `small`, what the SDK's delta says (without min/max).
    expect(second.dataPoints).toHaveLength(1);
    const ours = second.dataPoints[0]!;
    const theirs = byName(metrics, "sdk.histogram")!.dataPoints[0]!;
    expect(ours.value.buckets).toEqual(theirs.value.buckets);
    expect(ours.value).toMatchObject({ count: 2, sum: 22 });
    expect(ours.startTime).toEqual(first.dataPoints[0]!.endTime);

    expect(byName(await collect(), "local.histogram")).toBeUndefined();
  });
});
