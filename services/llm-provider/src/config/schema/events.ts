import { z } from "zod";
import { CALLER_CONTEXT_PATTERN, EVENT_SUBJECTS } from "@llm-provider/contracts";

export const EventsConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    stream: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, "letters, digits, '_' or '-'")
      .default("LLM_PROVIDER_EVENTS"),
    replicas: z.number().int().min(1).max(5).default(1),
    max_age_ms: z
      .number()
      .int()
      .positive()
      .default(7 * 24 * 60 * 60 * 1000),
    max_bytes: z.number().int().positive().optional().describe("Stream size cap; unset = no cap"),
    duplicate_window_ms: z
      .number()
      .int()
      .positive()
      .default(120_000)
      .describe("Nats-Msg-Id de-duplication window"),
    publish_timeout_ms: z.number().int().positive().default(5_000),
    linger_ms: z
      .number()
      .int()
      .min(0)
      .max(1_000)
      .default(20)
      .describe(
        "Events no reply waits for are gathered this long (or until 256 wait), then published together; 0 = at the end of the turn",
      ),
    queue_capacity: z
      .number()
      .int()
      .positive()
      .default(10_000)
      .describe("Events held while JetStream is away"),
    include_content: z.boolean().default(false).describe("Copy prompts and answers into events"),
    delivery: z
      .enum(["before_reply", "after_reply"])
      .default("before_reply")
      .describe(
        "before_reply: a request's reply waits until its event is stored, so no answered request loses " +
          "its event; after_reply: the reply goes at once, and an event still queued dies with its worker",
      ),
    before_reply_max_ms: z
      .number()
      .int()
      .positive()
      .default(10_000)
      .describe("Longest a reply waits for its event to be stored (never past the request's deadline)"),
    consumers: z
      .array(
        z.strictObject({
          name: z.string().regex(CALLER_CONTEXT_PATTERN, "a lowercase NATS token of at most 32 characters"),
          filter_subject: z.enum(EVENT_SUBJECTS).optional().describe("Only this event type; unset: all"),
          ack_wait_ms: z
            .number()
            .int()
            .positive()
            .default(30_000)
            .describe("Redelivery after this long unacked"),
          max_ack_pending: z.number().int().positive().default(1_000),
        }),
      )
      .default([])
      .describe(
        "Durable pull consumers llm-provider-bootstrap creates for the contexts that read the events " +
          "(their accounts are given them in the NATS configuration)",
      ),
  })
  .refine((events) => events.duplicate_window_ms <= events.max_age_ms, {
    path: ["duplicate_window_ms"],
    message: "must not exceed max_age_ms (JetStream refuses it)",
  });
export type EventsConfig = z.output<typeof EventsConfigSchema>;
