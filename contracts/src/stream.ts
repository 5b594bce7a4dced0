import { z } from "zod";
import { AttemptSchema, FinishReasonSchema, FunctionCallSchema, TokenUsageSchema } from "./chat.js";
import { ThinkingBlockSchema } from "./content.js";
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
      reasoning_content: z.string().optional().describe("Reasoning text, never part of the answer's content"),
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
    thinking_blocks: z
      .array(ThinkingBlockSchema)
      .optional()
      .describe(
        "Signed reasoning (Anthropic), whole: send it back in the assistant message of the next turn",
      ),
    usage: TokenUsageSchema,
    latency_ms: z.number().nonnegative(),
    time_to_first_chunk_ms: z.number().nonnegative().nullable(),
    attempts: z.array(AttemptSchema),
    warnings: z.array(z.string()),
    restarts: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe("How many times the answer was restarted or continued on another target (stream protocol 2)"),
  })
  .describe("Terminal message of a stream that finished");

const TargetRefSchema = z.object({ provider_id: z.string(), model: z.string() });

/**
 * Stream protocol 2 only: the target that was answering failed after part of the answer went out,
 * and another one takes over. `restart`: discard every chunk received so far, the answer starts
 * again with the next chunk. `continue`: keep them, the next chunks continue the same text.
 */
export const StreamRestartSchema = z
  .object({
    type: z.literal("restart"),
    seq: z.number().int().nonnegative(),
    request_id: z.string(),
    mode: z.enum(["restart", "continue"]),
    reason: z.object({ code: z.string(), message: z.string() }).describe("Why the answering target failed"),
    from: TargetRefSchema.describe("The target that failed"),
    to: TargetRefSchema.describe("The target that answers from here on"),
    discarded_chunks: z
      .number()
      .int()
      .nonnegative()
      .describe("Chunks of the answer the caller must drop (0 in `continue` mode)"),
  })
  .describe("The answer is restarted (or continued) on another target after a failure mid-stream");

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
  StreamRestartSchema,
  StreamDoneSchema,
  StreamErrorSchema,
]);
export type StreamChunk = z.infer<typeof StreamChunkSchema>;
export type StreamDone = z.infer<typeof StreamDoneSchema>;
export type StreamError = z.infer<typeof StreamErrorSchema>;
export type StreamRestart = z.infer<typeof StreamRestartSchema>;
export type StreamMessage = z.infer<typeof StreamMessageSchema>;

/** Tells the worker that streams `request_id` to stop: the caller stopped reading. */
export const CancelStreamSchema = z.strictObject({ request_id: z.string().min(1) }).describe("CancelStream");
export type CancelStream = z.infer<typeof CancelStreamSchema>;

/**
 * Continues a `resumable` stream of the same caller: the messages after `after_seq` (the last seq
 * the caller received; -1 for all of them), replayed, then live up to the terminal message, with
 * the same shapes and seq numbers as the stream itself.
 */
export const ResumeStreamSchema = z
  .strictObject({
    request_id: z.string().min(1).describe("The request id of the stream_chat request to continue"),
    after_seq: z
      .number()
      .int()
      .min(-1)
      .describe("The last seq the caller received (-1: none); the reply starts at the next one"),
  })
  .describe("ResumeStream");
export type ResumeStream = z.infer<typeof ResumeStreamSchema>;
