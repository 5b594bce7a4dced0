import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { SynchronousContextManager } from "./synchronous-context-manager.js";

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
 * Starts the OpenTelemetry SDK when the standard `OTEL_*` variables ask for an exporter, and does
 * nothing otherwise — the API then stays a no-op. Everything else is the SDK's own reading of the
 * environment: trace exporters and batch span processor (`OTEL_TRACES_EXPORTER`,
 * `OTEL_EXPORTER_OTLP_*`, `OTEL_BSP_*`), sampler and span limits, metric readers
 * (`OTEL_METRICS_EXPORTER`, `OTEL_METRIC_EXPORT_*`), propagators and resource detectors
 * (`OTEL_NODE_RESOURCE_DETECTORS`, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`).
 *
 * No auto-instrumentation: the service makes its own spans (NATS has no instrumentation package),
 * so nothing patches modules at load. Call before anything asks for instruments (`getInstruments`):
 * meters taken from the API before a provider is registered stay no-ops.
 */
export function startOpenTelemetry(): TelemetryHandle | undefined {
  const env = process.env;
  if (env.OTEL_SDK_DISABLED === "true") return undefined;
  if (!EXPORT_VARIABLES.some((name) => env[name])) return undefined;
  const sdk = new NodeSDK({
    // The service's name unless the environment names it (the detected resource is merged over this).
    resource: defaultResource().merge(resourceFromAttributes({ "service.name": "llm-provider" })),
    instrumentations: [],
    // Trace context is handed on explicitly (see SynchronousContextManager and its decision record).
    contextManager: new SynchronousContextManager(),
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}
