import { parseDataUrl, type CacheControl, type ContentPart, type FilePart } from "@llm-provider/contracts";
import { FailureClass, UpstreamError } from "../../domain/failure.js";
import type { OpenAIFlavour } from "./openai-flavour.js";

export interface OpenAITextPart {
  type: "text";
  text: string;
  /** OpenRouter only: passed on to models that cache by breakpoint (Anthropic, Gemini). */
  cache_control?: CacheControl;
}
export interface OpenAIImagePart {
  type: "image_url";
  image_url: { url: string; detail?: "auto" | "low" | "high" };
}
export interface OpenAIFilePart {
  type: "file";
  /** `file_data`: a base64 data URL; on OpenRouter also a PDF's http(s) URL. */
  file: { filename: string; file_data: string };
}
export type OpenAIContentPart = OpenAITextPart | OpenAIImagePart | OpenAIFilePart;

/** OpenAI wants a name with file data; the caller may give none. */
export const DEFAULT_PDF_FILENAME = "document.pdf";

/**
 * One neutral part → its Chat Completions part. A plain-text file becomes a text part holding its
 * decoded text (named, so the model can tell it from the prompt). The domain refused what the
 * flavour cannot take (a PDF URL off OpenRouter) before the call, so such a part is a bug and thrown.
 * `cache_control` is not copied here: where it goes is the message mapper's decision.
 */
export function convertToOpenAIPart(
  part: ContentPart,
  flavour: OpenAIFlavour,
  field: string,
): OpenAIContentPart {
  switch (part.type) {
    case "text":
      return { type: "text", text: part.text };
    case "image_url":
      return {
        type: "image_url",
        image_url: {
          url: part.image_url.url,
          ...(part.image_url.detail !== undefined ? { detail: part.image_url.detail } : {}),
        },
      };
    case "file":
      return convertFile(part.file, flavour, field);
  }
}

function convertFile(file: FilePart["file"], flavour: OpenAIFlavour, field: string): OpenAIContentPart {
  if (file.file_url !== undefined) {
    if (!flavour.openRouter) throw unmappable(field, "a file by URL", flavour);
    // OpenRouter's documented form: the URL goes where the data would (it fetches the PDF itself).
    return {
      type: "file",
      file: { filename: file.filename ?? DEFAULT_PDF_FILENAME, file_data: file.file_url },
    };
  }
  const data = parseDataUrl(file.file_data ?? "");
  if (data?.mediaType === "application/pdf")
    return {
      type: "file",
      file: { filename: file.filename ?? DEFAULT_PDF_FILENAME, file_data: file.file_data! },
    };
  if (data?.mediaType === "text/plain") {
    const text = Buffer.from(data.base64, "base64").toString("utf8");
    return { type: "text", text: `<file name="${file.filename ?? "file"}">\n${text}\n</file>` };
  }
  throw unmappable(field, `a file of type ${data?.mediaType ?? "unknown"}`, flavour);
}

export function unmappable(field: string, what: string, flavour: OpenAIFlavour): UpstreamError {
  return new UpstreamError(
    FailureClass.badRequest,
    `${field} is ${what}, which the ${flavour.name} wire cannot send: the request should have been refused before the call`,
  );
}
