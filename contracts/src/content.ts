import { z } from "zod";

/**
 * A prompt-cache breakpoint: the provider caches the prompt up to and including the part (or
 * message, or tool) that carries it. Anthropic's shape; OpenRouter passes it on; OpenAI caches by
 * itself and needs none.
 */
export const CacheControlSchema = z
  .strictObject({
    type: z.literal("ephemeral"),
    ttl: z.enum(["5m", "1h"]).optional().describe("How long the provider keeps the entry; unset: 5m"),
  })
  .describe("Prompt-cache breakpoint");
export type CacheControl = z.infer<typeof CacheControlSchema>;

/** Image types every provider with vision takes. */
export const IMAGE_MEDIA_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp"] as const;
/** Document types: PDF (text and page images) and plain text. */
export const FILE_MEDIA_TYPES = ["application/pdf", "text/plain"] as const;
export type FileMediaType = (typeof FILE_MEDIA_TYPES)[number];

const DATA_URL = /^data:([a-z]+\/[a-z0-9.+-]+);base64,([A-Za-z0-9+/]*={0,2})$/;

/** The media type and base64 payload of a `data:` URL, or undefined when it is not one. */
export function parseDataUrl(url: string): { mediaType: string; base64: string } | undefined {
  const match = DATA_URL.exec(url);
  return match ? { mediaType: match[1]!, base64: match[2]! } : undefined;
}

/** Bytes a base64 payload decodes to, without decoding it. */
export function base64ByteLength(base64: string): number {
  const padding = base64.endsWith("==") ? 2 : base64.endsWith("=") ? 1 : 0;
  return (base64.length / 4) * 3 - padding;
}

function isHttpsUrl(url: string): boolean {
  return url.startsWith("https://") || url.startsWith("http://");
}

export const TextPartSchema = z.strictObject({
  type: z.literal("text"),
  text: z.string(),
  cache_control: CacheControlSchema.optional(),
});
export type TextPart = z.infer<typeof TextPartSchema>;

export const ImagePartSchema = z
  .strictObject({
    type: z.literal("image_url"),
    image_url: z.strictObject({
      url: z
        .string()
        .min(1)
        .refine(
          (url) => isHttpsUrl(url) || IMAGE_MEDIA_TYPES.some((type) => parseDataUrl(url)?.mediaType === type),
          `must be an http(s) URL or a base64 data URL of ${IMAGE_MEDIA_TYPES.join(", ")}`,
        )
        .describe("An http(s) URL the provider fetches, or `data:image/png;base64,…`"),
      detail: z
        .enum(["auto", "low", "high"])
        .optional()
        .describe("OpenAI's resolution hint; others ignore it"),
    }),
    cache_control: CacheControlSchema.optional(),
  })
  .describe("An image, OpenAI's shape");
export type ImagePart = z.infer<typeof ImagePartSchema>;

export const FilePartSchema = z
  .strictObject({
    type: z.literal("file"),
    file: z
      .strictObject({
        file_data: z
          .string()
          .refine(
            (url) => FILE_MEDIA_TYPES.some((type) => parseDataUrl(url)?.mediaType === type),
            `must be a base64 data URL of ${FILE_MEDIA_TYPES.join(" or ")}`,
          )
          .optional()
          .describe("`data:application/pdf;base64,…` or `data:text/plain;base64,…`"),
        file_url: z
          .string()
          .refine(isHttpsUrl, "must be an http(s) URL")
          .optional()
          .describe(
            "A PDF the provider fetches itself (Anthropic, OpenRouter): for files too large for a message",
          ),
        filename: z.string().min(1).max(256).optional(),
      })
      .refine((file) => (file.file_data === undefined) !== (file.file_url === undefined), {
        message: "must have exactly one of file_data and file_url",
      }),
    cache_control: CacheControlSchema.optional(),
  })
  .describe("A document (PDF or plain text), OpenAI's shape plus `file_url`");
export type FilePart = z.infer<typeof FilePartSchema>;

export const ContentPartSchema = z.discriminatedUnion("type", [
  TextPartSchema,
  ImagePartSchema,
  FilePartSchema,
]);
export type ContentPart = z.infer<typeof ContentPartSchema>;

/** A message's content: a string, or parts (text, images, files). */
export const MessageContentSchema = z.union([z.string(), z.array(ContentPartSchema).min(1)]);
export type MessageContent = z.infer<typeof MessageContentSchema>;

/**
 * Anthropic's signed reasoning: returned with a reply and sent back unchanged in the assistant
 * message of the next turn (required when the turn used tools). `redacted_thinking` is reasoning
 * the provider encrypted; it still goes back.
 */
export const ThinkingBlockSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("thinking"), thinking: z.string(), signature: z.string().min(1) }),
  z.strictObject({ type: z.literal("redacted_thinking"), data: z.string().min(1) }),
]);
export type ThinkingBlock = z.infer<typeof ThinkingBlockSchema>;

/** The text of a message's content: the string, or its text parts joined. */
export function contentText(content: MessageContent | null | undefined): string {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  let text = "";
  for (const part of content) if (part.type === "text") text += part.text;
  return text;
}
