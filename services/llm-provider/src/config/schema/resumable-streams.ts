import { z } from "zod";

/** Resumable streams: a stream_chat answer also kept, batched, in a short-lived memory stream. */
export const ResumableStreamsConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    stream: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/)
      .default("LLM_PROVIDER_STREAMS")
      .describe("JetStream stream (memory storage) of the kept messages"),
    max_age_ms: z
      .number()
      .int()
      .min(1_000)
      .default(600_000)
      .describe("How long a stream's messages can be resumed after they were written"),
    replicas: z.number().int().min(1).max(5).default(1),
    flush_ms: z
      .number()
      .int()
      .min(0)
      .max(1_000)
      .default(5)
      .describe("Chunks produced within this time go out as one JetStream message"),
    max_batch_bytes: z
      .number()
      .int()
      .min(1_024)
      .max(512 * 1024)
      .default(64 * 1024)
      .describe("A batch this large is written at once"),
    idle_timeout_ms: z
      .number()
      .int()
      .min(1_000)
      .default(60_000)
      .describe(
        "A resumed stream that gets no new message for this long ends with an error (its worker stopped)",
      ),
  })
  .refine((streams) => streams.idle_timeout_ms < streams.max_age_ms, {
    path: ["idle_timeout_ms"],
    message: "must be shorter than max_age_ms",
  });
export type ResumableStreamsConfig = z.output<typeof ResumableStreamsConfigSchema>;
