import { NodeSDK } from "@opentelemetry/sdk-node";
import { PooledIdGenerator } from "../telemetry/pooled-id-generator.js";
import { SynchronousContextManager } from "../telemetry/synchronous-context-manager.js";
import { metricReadersFromEnv } from "./otel-metric-readers.js";
import { createOtlpProtobufTraceExporter, wantsOtlpProtobufTraces } from "./otlp-trace-exporter.js";

/** Variables that say an operator wants telemetry exported. */
const EXPORT_VARIABLES = [
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
  "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
  "OTEL_TRACES_EXPORTER",
  "OTEL_METRICS_EXPORTER",
];

export interface TelemetryHandle {
  /** Flushes what is buffered and stops exporting. */
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry SDK when the standard `OTEL_*` variables ask for an exporter (OTLP by
 * default: endpoint, protocol, headers, service name and resource all from the environment), and
 * does nothing otherwise — the API then stays a no-op. No auto-instrumentation: the service makes
 * its own spans (NATS has no instrumentation package), so nothing patches modules at load.
 */
export function startOpenTelemetry(env: NodeJS.ProcessEnv = process.env): TelemetryHandle | undefined {
  if (env.OTEL_SDK_DISABLED === "true") return undefined;
  if (!EXPORT_VARIABLES.some((name) => env[name])) return undefined;
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? "llm-provider",
    instrumentations: [],
    // Resource detectors are the SDK's (OTEL_NODE_RESOURCE_DETECTORS; env, host and process by
    // default): OTEL_RESOURCE_ATTRIBUTES is read by the env detector.
    // Trace context is handed on explicitly; see SynchronousContextManager.
    contextManager: new SynchronousContextManager(),
    idGenerator: new PooledIdGenerator(),
    // The default exporter with a faster serializer; the SDK still wraps it in its batch processor
    // configured by OTEL_BSP_*. Other exporters are left to the SDK's environment handling.
    ...(wantsOtlpProtobufTraces(env) ? { traceExporter: createOtlpProtobufTraceExporter() } : {}),
    // As the SDK would make them from the environment, each with the local histograms' producer.
    metricReaders: metricReadersFromEnv(env),
  });
  sdk.start();
  return {
    async shutdown() {
      await sdk.shutdown();
    },
  };
}
