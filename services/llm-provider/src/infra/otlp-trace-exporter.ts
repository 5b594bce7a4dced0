import { OTLPExporterBase } from "@opentelemetry/otlp-exporter-base";
import {
  convertLegacyHttpOptions,
  createOtlpHttpExportDelegate,
} from "@opentelemetry/otlp-exporter-base/node-http";
import { TraceExporterMetricsHelper } from "@opentelemetry/otlp-transformer";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";
import { createOtlpSpanSerializer } from "../telemetry/otlp-span-serializer.js";
import { exporterNames, otlpProtocol } from "./otel-env.js";

/**
 * Whether the environment asks for the OTLP/HTTP protobuf trace exporter — what the SDK picks
 * when nothing else is named: `OTEL_TRACES_EXPORTER` unset or `otlp`, protocol unset or
 * `http/protobuf`. Any other choice (gRPC, JSON, Zipkin, console, several) stays the SDK's.
 */
export function wantsOtlpProtobufTraces(env: NodeJS.ProcessEnv): boolean {
  const exporters = exporterNames(env.OTEL_TRACES_EXPORTER);
  if (exporters.length > 1 || (exporters.length === 1 && exporters[0] !== "otlp")) return false;
  const protocol = otlpProtocol(env, "TRACES");
  return protocol === "" || protocol === "http/protobuf";
}

/**
 * The SDK's OTLP/HTTP protobuf trace exporter — its transport, retries and `OTEL_EXPORTER_OTLP_*`
 * configuration (endpoint, headers, compression, timeout, certificates) — with the service's
 * serializer, which writes the same bytes at a fraction of the CPU (`otlp-span-serializer.ts`).
 */
export function createOtlpProtobufTraceExporter(): SpanExporter {
  const delegate = createOtlpHttpExportDelegate<ReadableSpan[], unknown>(
    convertLegacyHttpOptions({}, "TRACES", "v1/traces", { "Content-Type": "application/x-protobuf" }),
    createOtlpSpanSerializer(),
    "otlp_http_span_exporter",
    TraceExporterMetricsHelper,
    undefined, // the SDK's own metrics stay off, as they are in the SDK's exporter by default
  );
  return new OTLPExporterBase(delegate);
}
