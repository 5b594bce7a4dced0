import { z } from "zod";
import { AttemptSchema, FinishReasonSchema, FunctionCallSchema, TokenUsageSchema } from "./chat.js";
import { ErrorBodySchema } from "./errors.js";

/** Part of a tool call as it streams: the first part of a call has `id` and name, later ones argument text. */
export const ToolCallDeltaSchema = z.object({
  index: z.number().int().nonnegative(),
  id: z.string().optional(),
  type: z.literal("function").optional(),
  function: z.object({ name: z.string().optional(), arguments: z.string().optional() }).optional(),
});
export type ToolCallDelta = z.infer<typeof ToolCallDeltaSchema>;

/** One piece of the answer. `seq` counts every message of the stream from 0, with no gaps. */
export const StreamChunkSchema = z
  .object({
    type: z.literal("chunk"),
    seq: z.number().int().nonnegative(),
    request_id: z.string(),
    delta: z.object({
      content: z.string().optional(),
      tool_calls: z.array(ToolCallDeltaSchema).optional(),
      function_call: z.object({ name: z.string().optional(), arguments: z.string().optional() }).optional(),
    }),
  })
  .describe("A chunk of a streamed chat completion");

/** The last message of a stream that finished: what a ChatCompletion says, without the content again. */
export const StreamDoneSchema = z
  .object({
    type: z.literal("done"),
    seq: z.number().int().nonnegative(),
    request_id: z.string(),
    id: z.string(),
    model: z.string(),
    provider_id: z.string(),
    upstream_id: z.string().nullable(),
    finish_reason: FinishReasonSchema,
    raw_finish_reason: z.string().nullable(),
    function_call: FunctionCallSchema.optional(),
    usage: TokenUsageSchema,
    latency_ms: z.number().nonnegative(),
    time_to_first_chunk_ms: z.number().nonnegative().nullable(),
    attempts: z.array(AttemptSchema),
    warnings: z.array(z.string()),
  })
  .describe("Terminal message of a stream that finished");

/** The last message of a stream that did not finish: a truncated answer is never reported as complete. */
export const StreamErrorSchema = z
  .object({
    type: z.literal("error"),
    seq: z.number().int().nonnegative(),
    request_id: z.string(),
    error: ErrorBodySchema,
    attempts: z.array(AttemptSchema),
  })
  .describe("Terminal message of a stream that failed");

export const StreamMessageSchema = z.discriminatedUnion("type", [
  StreamChunkSchema,
  StreamDoneSchema,
  StreamErrorSchema,
]);
export type StreamChunk = z.infer<typeof StreamChunkSchema>;
export type StreamDone = z.infer<typeof StreamDoneSchema>;
export type StreamError = z.infer<typeof StreamErrorSchema>;
export type StreamMessage = z.infer<typeof StreamMessageSchema>;

/** Tells the worker that streams `request_id` to stop: the caller stopped reading. */
export const CancelStreamSchema = z.strictObject({ request_id: z.string().min(1) }).describe("CancelStream");
export type CancelStream = z.infer<typeof CancelStreamSchema>;
