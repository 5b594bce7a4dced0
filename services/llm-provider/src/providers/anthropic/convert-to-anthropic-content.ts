import type Anthropic from "@anthropic-ai/sdk";
import { parseDataUrl } from "@llm-provider/contracts";
import type { CacheControl, ContentPart, FilePart, ImagePart, MessageContent } from "@llm-provider/contracts";
import { FailureClass, UpstreamError } from "../../domain/failure.js";

/** The blocks a user or tool message's content becomes; a tool result holds the same kinds. */
export type AnthropicContentBlock =
  Anthropic.TextBlockParam | Anthropic.ImageBlockParam | Anthropic.DocumentBlockParam;

type ImageMediaType = Anthropic.Base64ImageSource["media_type"];
const IMAGE_MEDIA_TYPES: readonly string[] = ["image/jpeg", "image/png", "image/gif", "image/webp"];

/**
 * A message's content → Anthropic content blocks: text, images (base64 or URL source), PDFs (base64
 * or URL source) and plain-text files (a text source, decoded). Empty text is left out: the API
 * refuses empty text blocks. Breakpoints are kept only when `promptCaching`.
 */
export function convertContentBlocks(
  content: MessageContent | null | undefined,
  promptCaching: boolean,
): AnthropicContentBlock[] {
  if (content === null || content === undefined || content === "") return [];
  if (typeof content === "string") return [{ type: "text", text: content }];
  const blocks: AnthropicContentBlock[] = [];
  for (const part of content) {
    const block = convertPart(part);
    if (block === undefined) continue;
    if (promptCaching && part.cache_control) block.cache_control = toCacheControl(part.cache_control);
    blocks.push(block);
  }
  return blocks;
}

/** Neutral breakpoint → Anthropic's (the same shape; copied so no neutral object is shared). */
export function toCacheControl(cacheControl: CacheControl): Anthropic.CacheControlEphemeral {
  return cacheControl.ttl !== undefined
    ? { type: "ephemeral", ttl: cacheControl.ttl }
    : { type: "ephemeral" };
}

function convertPart(part: ContentPart): AnthropicContentBlock | undefined {
  switch (part.type) {
    case "text":
      return part.text === "" ? undefined : { type: "text", text: part.text };
    case "image_url":
      return imageBlock(part);
    case "file":
      return documentBlock(part);
  }
}

function imageBlock(part: ImagePart): Anthropic.ImageBlockParam {
  const { url } = part.image_url;
  if (url.startsWith("data:")) {
    const data = parseDataUrl(url);
    if (data === undefined || !IMAGE_MEDIA_TYPES.includes(data.mediaType))
      throw unmappable("an image data URL that is not base64 PNG, JPEG, GIF or WebP");
    return {
      type: "image",
      source: { type: "base64", media_type: data.mediaType as ImageMediaType, data: data.base64 },
    };
  }
  return { type: "image", source: { type: "url", url } };
}

function documentBlock(part: FilePart): Anthropic.DocumentBlockParam {
  const { file_data: fileData, file_url: fileUrl, filename } = part.file;
  const title = filename !== undefined ? { title: filename } : {};
  if (fileUrl !== undefined) return { type: "document", source: { type: "url", url: fileUrl }, ...title };
  const data = fileData !== undefined ? parseDataUrl(fileData) : undefined;
  if (data?.mediaType === "application/pdf")
    return {
      type: "document",
      source: { type: "base64", media_type: "application/pdf", data: data.base64 },
      ...title,
    };
  if (data?.mediaType === "text/plain")
    return {
      type: "document",
      source: {
        type: "text",
        media_type: "text/plain",
        data: Buffer.from(data.base64, "base64").toString("utf8"),
      },
      ...title,
    };
  throw unmappable("a file that is neither a PDF nor plain text");
}

/** A part the request checks should have refused before the call: a bug, not the caller's input. */
function unmappable(what: string): UpstreamError {
  return new UpstreamError(
    FailureClass.badRequest,
    `the Anthropic wire cannot map ${what}; the request checks should have refused it`,
  );
}
