/** The names in an `OTEL_*_EXPORTER` list: trimmed, without empties and the legacy `null`. */
export function exporterNames(value: string | undefined): string[] {
  return [
    ...new Set(
      (value ?? "")
        .split(",")
        .map((name) => name.trim())
        .filter((name) => name !== "" && name !== "null"),
    ),
  ];
}

/** The OTLP protocol of one signal: its own variable, else the general one; "" when neither is set. */
export function otlpProtocol(env: NodeJS.ProcessEnv, signal: "TRACES" | "METRICS"): string {
  return (env[`OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`] ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? "").trim();
}
