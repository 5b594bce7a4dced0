import { z } from "zod";
import { CostSchema } from "./chat.js";

/** CMD-002 GenerateEmbedding: the request body of `llm-provider.cmd.generate_embedding`. */
export const GenerateEmbeddingSchema = z
  .strictObject({
    model: z.string().min(1).max(256),
    input: z
      .union([z.string(), z.array(z.string()).max(2048)])
      .describe("One text or a batch; every item must be non-empty (POL-LLM-004)"),
    dimensions: z
      .number()
      .int()
      .positive()
      .optional()
      .describe("Requested vector length, where the model supports it"),
    encoding_format: z.enum(["float", "base64"]).default("float").describe("base64: little-endian float32"),
    user: z.string().max(256).optional(),
    timeout_ms: z.number().int().min(100).max(600_000).optional(),
    metadata: z.record(z.string(), z.string().max(512)).optional(),
  })
  .describe("CMD-002 GenerateEmbedding");
export type GenerateEmbedding = z.infer<typeof GenerateEmbeddingSchema>;
export type GenerateEmbeddingInput = z.input<typeof GenerateEmbeddingSchema>;

export const EmbeddingSchema = z
  .object({
    index: z.number().int().nonnegative().describe("Position of the input in the request"),
    embedding: z.union([z.array(z.number()), z.string()]).describe("Vector, or base64 float32 LE"),
    dimensions: z.number().int().positive(),
    input_ref: z.string().describe("Idempotency key: hash of model and input text"),
    model: z.string(),
    cached: z.boolean(),
  })
  .describe("Embedding entity");
export type Embedding = z.infer<typeof EmbeddingSchema>;

export const EmbeddingResultSchema = z
  .object({
    request_id: z.string(),
    model: z.string(),
    provider_id: z.string(),
    data: z.array(EmbeddingSchema),
    usage: z.object({
      prompt_tokens: z.number().int().nonnegative(),
      total_tokens: z.number().int().nonnegative(),
      cost: CostSchema,
    }),
    latency_ms: z.number().nonnegative(),
    warnings: z
      .array(z.string())
      .describe("What a provider could not honour or did not report, e.g. token usage"),
    replayed: z
      .literal(true)
      .optional()
      .describe(
        "The stored reply of an earlier request with the same Request-Id (within the idempotency window), " +
          "byte for byte: nothing was called, charged or announced again",
      ),
  })
  .describe("Reply of llm-provider.cmd.generate_embedding");
export type EmbeddingResult = z.infer<typeof EmbeddingResultSchema>;
