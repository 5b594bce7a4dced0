import {
  convertLegacyHttpOptions,
  createOtlpHttpExportDelegate,
} from "@opentelemetry/otlp-exporter-base/node-http";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import type { TraceRequest, TraceRequestExporter } from "../telemetry/serializing-span-processor.js";
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
 * The SDK's OTLP/HTTP protobuf trace transport — its `OTEL_EXPORTER_OTLP_*` configuration
 * (endpoint, headers, compression, timeout, certificates), retries and concurrency limit — for
 * requests the service has serialized already (`SerializingSpanProcessor`).
 */
export function createOtlpProtobufRequestExporter(): TraceRequestExporter {
  const delegate = createOtlpHttpExportDelegate<TraceRequest, unknown>(
    convertLegacyHttpOptions({}, "TRACES", "v1/traces", { "Content-Type": "application/x-protobuf" }),
    {
      serializeRequest: (batch) => batch.request,
      deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
    },
    "otlp_http_span_exporter",
    { name: "span", countItems: (batch) => batch.count },
    undefined, // the SDK's own metrics stay off, as they are in the SDK's exporter by default
  );
  return {
    export: (batch, done) => delegate.export(batch, done),
    forceFlush: () => delegate.forceFlush(),
    shutdown: () => delegate.shutdown(),
  };
}
