import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { afterEach, describe, expect, it } from "vitest";
import type { MetricReader } from "@opentelemetry/sdk-metrics";
import { getInstruments } from "../telemetry/instruments.js";
import { metricReadersFromEnv } from "./otel-metric-readers.js";

const made: MetricReader[] = [];

/** A port nothing listens on now (the exporter cannot be told to take any free one). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
const readers = (env: NodeJS.ProcessEnv) => {
  const list = metricReadersFromEnv(env);
  made.push(...list);
  return list;
};

afterEach(async () => {
  await Promise.all(made.splice(0).map((reader) => reader.shutdown().catch(() => undefined)));
});

describe("metricReadersFromEnv", () => {
  it("makes one periodic OTLP reader by default, on the SDK's interval, clamping the timeout", () => {
    const [reader, ...rest] = readers({
      OTEL_METRIC_EXPORT_INTERVAL: "5000",
      OTEL_METRIC_EXPORT_TIMEOUT: "9000",
    });
    expect(rest).toEqual([]);
    expect(reader).toBeInstanceOf(PeriodicExportingMetricReader);
    const timing = reader as unknown as { _exportInterval: number; _exportTimeout: number };
    expect(timing._exportInterval).toBe(5_000);
    expect(timing._exportTimeout).toBe(5_000);
  });

  it("makes none for none, and skips names it does not know", () => {
    expect(readers({ OTEL_METRICS_EXPORTER: "none" })).toEqual([]);
    expect(readers({ OTEL_METRICS_EXPORTER: "otlp,none" })).toEqual([]);
    expect(readers({ OTEL_METRICS_EXPORTER: "statsd" })).toEqual([]);
    expect(readers({ OTEL_METRICS_EXPORTER: "console, otlp" })).toHaveLength(2);
  });

  it("gives every reader the local histograms, prometheus included", async () => {
    const port = await freePort();
    const [prometheus] = readers({
      OTEL_METRICS_EXPORTER: "prometheus",
      OTEL_EXPORTER_PROMETHEUS_HOST: "127.0.0.1",
      OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
    });
    expect(prometheus).toBeInstanceOf(PrometheusExporter);
    // A reader reports the histograms only once a MeterProvider has bound it.
    new MeterProvider({ readers: [prometheus!] });
    getInstruments().tokenUsage.record(42, { "gen_ai.operation.name": "chat", "gen_ai.token.type": "input" });
    const { resourceMetrics, errors } = await prometheus!.collect();
    expect(errors).toEqual([]);
    const names = resourceMetrics.scopeMetrics.flatMap((scope) =>
      scope.metrics.map((metric) => metric.descriptor.name),
    );
    expect(names).toContain("gen_ai.client.token.usage");
    // Served where the variables say, on the loopback only.
    const scraped = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(scraped).toContain("gen_ai_client_token_usage");
  });
});
