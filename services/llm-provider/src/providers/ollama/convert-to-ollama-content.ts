import { parseDataUrl, type MessageContent } from "@llm-provider/contracts";
import { FailureClass, UpstreamError } from "../../domain/failure.js";

/** One Ollama message's text and images: Ollama takes parts as `content` plus raw base64 `images`. */
export interface OllamaContent {
  content: string;
  /** Raw base64, no `data:` prefix: Ollama decodes each entry as bytes. */
  images: string[];
}

/**
 * Neutral content → Ollama's `content` and `images`. Text parts are joined; a base64 image goes to
 * `images`; a plain-text file becomes a delimited block of its text in `content`. The domain has
 * refused what Ollama cannot take (image URLs: Ollama fetches nothing; PDFs) before the call, so
 * such a part here is a bug, not the caller's mistake, and is thrown rather than dropped.
 */
export function convertToOllamaContent(
  content: MessageContent | null | undefined,
  where: string,
): OllamaContent {
  if (content === null || content === undefined) return { content: "", images: [] };
  if (typeof content === "string") return { content, images: [] };
  // Adjacent text parts join as they are (as `contentText` does); a file is a block of its own.
  const blocks: string[] = [];
  let joinsText = false;
  const images: string[] = [];
  content.forEach((part, index) => {
    const field = `${where}.content[${index}]`;
    if (part.type === "text") {
      if (joinsText) blocks[blocks.length - 1] += part.text;
      else blocks.push(part.text);
      joinsText = true;
      return;
    }
    if (part.type === "image_url") {
      images.push(imageBase64(part.image_url.url, field));
      return;
    }
    blocks.push(fileBlock(part.file, field));
    joinsText = false;
  });
  return { content: blocks.join("\n\n"), images };
}

function imageBase64(url: string, field: string): string {
  const data = parseDataUrl(url);
  if (data === undefined) throw unmappable(field, "an image by URL (Ollama fetches no URL)");
  return data.base64;
}

/** A plain-text file as text the model reads, named so it can tell the file from the prompt. */
function fileBlock(
  file: { file_data?: string | undefined; file_url?: string | undefined; filename?: string | undefined },
  field: string,
): string {
  const data = file.file_data === undefined ? undefined : parseDataUrl(file.file_data);
  if (data?.mediaType !== "text/plain")
    throw unmappable(field, file.file_url !== undefined ? "a file by URL" : "a PDF file");
  const name = file.filename ?? "file";
  const text = Buffer.from(data.base64, "base64").toString("utf8");
  return `<file name="${name}">\n${text}\n</file>`;
}

function unmappable(field: string, what: string): UpstreamError {
  return new UpstreamError(
    FailureClass.badRequest,
    `${field} is ${what}, which the Ollama wire cannot send: the request should have been refused before the call`,
  );
}
