import { describe, expect, it } from "vitest";
import { wantsOtlpProtobufTraces } from "./otlp-trace-exporter.js";

describe("wantsOtlpProtobufTraces", () => {
  it("takes the default exporter: nothing named, or otlp over http/protobuf", () => {
    expect(wantsOtlpProtobufTraces({})).toBe(true);
    expect(wantsOtlpProtobufTraces({ OTEL_TRACES_EXPORTER: "otlp" })).toBe(true);
    expect(wantsOtlpProtobufTraces({ OTEL_TRACES_EXPORTER: " otlp , null" })).toBe(true);
    expect(wantsOtlpProtobufTraces({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" })).toBe(true);
    expect(
      wantsOtlpProtobufTraces({
        OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/protobuf",
      }),
    ).toBe(true);
  });

  it("leaves every other choice to the SDK", () => {
    expect(wantsOtlpProtobufTraces({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toBe(false);
    expect(wantsOtlpProtobufTraces({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" })).toBe(false);
    expect(
      wantsOtlpProtobufTraces({
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "grpc",
      }),
    ).toBe(false);
    expect(wantsOtlpProtobufTraces({ OTEL_TRACES_EXPORTER: "none" })).toBe(false);
    expect(wantsOtlpProtobufTraces({ OTEL_TRACES_EXPORTER: "zipkin" })).toBe(false);
    expect(wantsOtlpProtobufTraces({ OTEL_TRACES_EXPORTER: "otlp,console" })).toBe(false);
  });
});
