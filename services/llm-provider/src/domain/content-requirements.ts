import { parseDataUrl } from "@llm-provider/contracts";
import type { ChatMessage, ContentPart, ProviderType } from "@llm-provider/contracts";
import type { ModelFeatures } from "./catalog.js";
import type { Mismatch } from "./chat-requirements.js";

/** What a wire can carry of the content parts, whatever the model behind it. */
export interface WireContentSupport {
  /** An image by http(s) URL, fetched by the provider. */
  imageUrl: boolean;
  /** A PDF by base64 data. */
  pdfData: boolean;
  /** A PDF by http(s) URL, fetched by the provider. */
  pdfUrl: boolean;
  /** Images and files in a tool result, not only text. */
  toolResultMedia: boolean;
}

const OPENAI_LIKE: WireContentSupport = {
  imageUrl: true,
  pdfData: true,
  pdfUrl: false,
  toolResultMedia: false,
};

/**
 * Each wire as its provider documents it. Base64 images and plain-text files go everywhere (a wire
 * without documents sends the text as text); Ollama fetches nothing and reads no PDF.
 */
export const WIRE_CONTENT_SUPPORT: Readonly<Record<ProviderType, WireContentSupport>> = {
  openai: OPENAI_LIKE,
  azure_openai: OPENAI_LIKE,
  litellm: OPENAI_LIKE,
  openai_compatible: OPENAI_LIKE,
  openrouter: { imageUrl: true, pdfData: true, pdfUrl: true, toolResultMedia: false },
  anthropic: { imageUrl: true, pdfData: true, pdfUrl: true, toolResultMedia: true },
  ollama: { imageUrl: false, pdfData: false, pdfUrl: false, toolResultMedia: false },
};

/**
 * The first content part `model` on a `providerType` wire cannot take, as a typed
 * `unsupported_content` mismatch naming the part; undefined when it takes them all.
 */
export function findContentMismatch(
  modelName: string,
  features: ModelFeatures,
  providerType: ProviderType,
  messages: readonly ChatMessage[],
): Mismatch | undefined {
  const wire = WIRE_CONTENT_SUPPORT[providerType];
  for (let index = 0; index < messages.length; index++) {
    const message = messages[index]!;
    if (!Array.isArray(message.content)) continue;
    for (let partIndex = 0; partIndex < message.content.length; partIndex++) {
      const part = message.content[partIndex]!;
      const problem = partProblem(part, message.role, features, wire, providerType);
      if (problem !== undefined)
        return {
          kind: "unsupported_content",
          field: `messages[${index}].content[${partIndex}]`,
          message: `model '${modelName}' ${problem}`,
        };
    }
  }
  return undefined;
}

function partProblem(
  part: ContentPart,
  role: ChatMessage["role"],
  features: ModelFeatures,
  wire: WireContentSupport,
  providerType: ProviderType,
): string | undefined {
  if (part.type === "text") return undefined;
  if (role === "tool" && !wire.toolResultMedia)
    return `takes only text in tool results (${providerType} API), got ${part.type === "file" ? "a file" : "an image"}`;
  if (part.type === "image_url") {
    if (!features.vision) return "does not take images (no vision capability)";
    if (!wire.imageUrl && parseDataUrl(part.image_url.url) === undefined)
      return `takes images only as base64 data URLs (${providerType} fetches no URL)`;
    return undefined;
  }
  if (!features.files) return "does not take files (no files capability)";
  if (part.file.file_url !== undefined)
    return wire.pdfUrl
      ? undefined
      : `takes files only as file_data (${providerType} fetches no URL): send the file base64-encoded`;
  const isPdf = parseDataUrl(part.file.file_data!)?.mediaType === "application/pdf";
  return isPdf && !wire.pdfData ? `cannot read PDF files (${providerType} API)` : undefined;
}
