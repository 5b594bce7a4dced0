import { diag } from "@opentelemetry/api";
import { OTLPMetricExporter as OtlpGrpcMetricExporter } from "@opentelemetry/exporter-metrics-otlp-grpc";
import { OTLPMetricExporter as OtlpJsonMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPMetricExporter as OtlpProtobufMetricExporter } from "@opentelemetry/exporter-metrics-otlp-proto";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { ConsoleMetricExporter, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import type { MetricReader, PushMetricExporter } from "@opentelemetry/sdk-metrics";
import { createLocalHistogramProducer } from "../telemetry/instruments.js";
import type { LocalHistogramProducer } from "../telemetry/local-histograms.js";
import { exporterNames, otlpProtocol } from "./otel-env.js";

const DEFAULT_EXPORT_INTERVAL_MS = 60_000;
const DEFAULT_EXPORT_TIMEOUT_MS = 30_000;

/**
 * The metric readers `OTEL_METRICS_EXPORTER` asks for (otlp by default; console, prometheus,
 * none), as the SDK builds them from the environment — plus, on each, the producer of the
 * service's locally aggregated histograms (`telemetry/local-histograms.ts`), which a reader can
 * only be given when it is made. Exporter settings (endpoint, headers, temporality preference)
 * are still read by the exporters themselves.
 */
export function metricReadersFromEnv(env: NodeJS.ProcessEnv): MetricReader[] {
  const names = exporterNames(env.OTEL_METRICS_EXPORTER);
  if (names.includes("none")) return [];
  const readers: MetricReader[] = [];
  for (const name of names.length > 0 ? names : ["otlp"]) {
    const producer = createLocalHistogramProducer();
    let reader: MetricReader;
    if (name === "otlp") reader = periodicReader(otlpMetricExporter(env), env, producer);
    else if (name === "console") reader = periodicReader(new ConsoleMetricExporter(), env, producer);
    else if (name === "prometheus") reader = prometheusReader(env, producer);
    else {
      diag.warn(`Unsupported OTEL_METRICS_EXPORTER value: "${name}" (otlp, console, prometheus, none)`);
      continue;
    }
    producer.bindTo(reader);
    readers.push(reader);
  }
  return readers;
}

/** The Prometheus endpoint (host and port from the variables given, as the exporter reads them). */
function prometheusReader(env: NodeJS.ProcessEnv, producer: LocalHistogramProducer): PrometheusExporter {
  const host = env.OTEL_EXPORTER_PROMETHEUS_HOST;
  const port = Number(env.OTEL_EXPORTER_PROMETHEUS_PORT);
  return new PrometheusExporter({
    ...(host ? { host } : {}),
    ...(port > 0 ? { port } : {}),
    metricProducers: [producer],
  });
}

function otlpMetricExporter(env: NodeJS.ProcessEnv): PushMetricExporter {
  const protocol = otlpProtocol(env, "METRICS");
  if (protocol === "grpc") return new OtlpGrpcMetricExporter();
  if (protocol === "http/json") return new OtlpJsonMetricExporter();
  if (protocol !== "" && protocol !== "http/protobuf")
    diag.warn(`Unsupported OTLP metrics protocol "${protocol}"; using http/protobuf`);
  return new OtlpProtobufMetricExporter();
}

function periodicReader(
  exporter: PushMetricExporter,
  env: NodeJS.ProcessEnv,
  producer: LocalHistogramProducer,
): PeriodicExportingMetricReader {
  const milliseconds = (name: string, fallback: number): number => {
    const value = Number(env[name]);
    return env[name] !== undefined && Number.isFinite(value) && value > 0 ? value : fallback;
  };
  const exportIntervalMillis = milliseconds("OTEL_METRIC_EXPORT_INTERVAL", DEFAULT_EXPORT_INTERVAL_MS);
  // The reader refuses a timeout above the interval; the SDK clamps it the same way.
  const exportTimeoutMillis = Math.min(
    milliseconds("OTEL_METRIC_EXPORT_TIMEOUT", DEFAULT_EXPORT_TIMEOUT_MS),
    exportIntervalMillis,
  );
  return new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis,
    exportTimeoutMillis,
    metricProducers: [producer],
  });
}
