import { trace } from "@opentelemetry/api";
import {
  defaultResource,
  detectResources,
  envDetector,
  hostDetector,
  processDetector,
  resourceFromAttributes,
} from "@opentelemetry/resources";
import type { Resource } from "@opentelemetry/resources";
import { NodeSDK } from "@opentelemetry/sdk-node";
// The SDK's own readers of OTEL_TRACES_SAMPLER*, the span limits (create-from-env), OTEL_BSP_*
// and OTEL_NODE_RESOURCE_DETECTORS (utils): the lean tracer is configured as the SDK would be.
import {
  createSamplerFromEnv,
  createSpanLimitsFromEnv,
} from "@opentelemetry/sdk-node/build/src/create-from-env.js";
import {
  getNonNegativeNumberFromEnv,
  getResourceDetectorsFromEnv,
} from "@opentelemetry/sdk-node/build/src/utils.js";
import { LeanTracerProvider, PARENT_BASED_ALWAYS_ON } from "../telemetry/lean-tracer.js";
import { PooledIdGenerator } from "../telemetry/pooled-id-generator.js";
import { SynchronousContextManager } from "../telemetry/synchronous-context-manager.js";
import { metricReadersFromEnv } from "./otel-metric-readers.js";
import { SerializingSpanProcessor } from "../telemetry/serializing-span-processor.js";
import { createOtlpProtobufRequestExporter, wantsOtlpProtobufTraces } from "./otlp-trace-exporter.js";

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
 *
 * With the default trace exporter (OTLP/HTTP protobuf) spans are made by `LeanTracerProvider` and
 * written by the service's serializer, through the SDK's batch processor and HTTP exporter; any
 * other trace exporter gets the SDK's own TracerProvider.
 */
export function startOpenTelemetry(env: NodeJS.ProcessEnv = process.env): TelemetryHandle | undefined {
  if (env.OTEL_SDK_DISABLED === "true") return undefined;
  if (!EXPORT_VARIABLES.some((name) => env[name])) return undefined;
  const serviceName = env.OTEL_SERVICE_NAME ?? "llm-provider";
  const lean = wantsOtlpProtobufTraces(env);
  // One resource for traces and metrics, detected as the SDK would (env, host and process
  // detectors unless OTEL_NODE_RESOURCE_DETECTORS names others).
  const resource = detectResource(env, serviceName);
  const idGenerator = new PooledIdGenerator();
  const sdk = new NodeSDK({
    serviceName,
    instrumentations: [],
    resource,
    autoDetectResources: false,
    // Trace context is handed on explicitly; see SynchronousContextManager.
    contextManager: new SynchronousContextManager(),
    idGenerator,
    // Lean tracing: no span processor, so the SDK registers no TracerProvider of its own.
    ...(lean ? { spanProcessors: [] } : {}),
    // As the SDK would make them from the environment, each with the local histograms' producer.
    metricReaders: metricReadersFromEnv(env),
  });
  sdk.start();
  const tracerProvider = lean
    ? new LeanTracerProvider({
        resource,
        sampler:
          (env.OTEL_TRACES_SAMPLER ?? "parentbased_always_on") === "parentbased_always_on"
            ? PARENT_BASED_ALWAYS_ON
            : (createSamplerFromEnv() ?? PARENT_BASED_ALWAYS_ON),
        spanLimits: createSpanLimitsFromEnv() ?? {},
        idGenerator,
        // The SDK's batch settings (as createBatchSpanProcessorFromEnv reads them).
        spanProcessor: new SerializingSpanProcessor(createOtlpProtobufRequestExporter(), {
          maxQueueSize: getNonNegativeNumberFromEnv("OTEL_BSP_MAX_QUEUE_SIZE"),
          scheduledDelayMillis: getNonNegativeNumberFromEnv("OTEL_BSP_SCHEDULE_DELAY"),
          exportTimeoutMillis: getNonNegativeNumberFromEnv("OTEL_BSP_EXPORT_TIMEOUT"),
          maxExportBatchSize: getNonNegativeNumberFromEnv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE"),
        }),
      })
    : undefined;
  if (tracerProvider) trace.setGlobalTracerProvider(tracerProvider);
  return {
    async shutdown() {
      await Promise.all([sdk.shutdown(), tracerProvider?.shutdown()]);
    },
  };
}

function detectResource(env: NodeJS.ProcessEnv, serviceName: string): Resource {
  const detectors = env.OTEL_NODE_RESOURCE_DETECTORS
    ? getResourceDetectorsFromEnv()
    : [envDetector, processDetector, hostDetector];
  return defaultResource()
    .merge(detectResources({ detectors }))
    .merge(resourceFromAttributes({ "service.name": serviceName }));
}
