import { pino } from "pino";
import type { Logger } from "pino";

export type { Logger };

/**
 * JSON logs. Secrets never reach a log call, and these paths are masked anyway in case a
 * future call passes a whole object that holds one.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: "llm-provider" },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ["*.api_key", "*.apiKey", "*.authorization", "*.Authorization", "*.password", "*.token"],
      censor: "[redacted]",
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
