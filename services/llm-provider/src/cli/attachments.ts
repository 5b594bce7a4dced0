// `--image` and `--file` of `chat`: a local file read and sent base64-encoded, or a URL the
// provider fetches itself.
import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import type { ContentPart } from "@llm-provider/contracts";
import { UsageError } from "./usage-error.js";

const IMAGE_TYPES: Readonly<Record<string, string>> = {
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
};
const FILE_TYPES: Readonly<Record<string, string>> = {
  ".pdf": "application/pdf",
  ".txt": "text/plain",
  ".md": "text/plain",
};

function isUrl(source: string): boolean {
  return source.startsWith("https://") || source.startsWith("http://");
}

/** The content part for one `--image` or `--file` argument. */
export async function attachmentPart(kind: "image" | "file", source: string): Promise<ContentPart> {
  if (isUrl(source))
    return kind === "image"
      ? { type: "image_url", image_url: { url: source } }
      : { type: "file", file: { file_url: source } };
  const types = kind === "image" ? IMAGE_TYPES : FILE_TYPES;
  const mediaType = types[extname(source).toLowerCase()];
  if (mediaType === undefined)
    throw new UsageError(
      `--${kind} ${source}: the name must end in ${Object.keys(types).join(", ")} (or give an http(s) URL)`,
      "chat",
    );
  let bytes: Buffer;
  try {
    bytes = await readFile(source);
  } catch (error) {
    throw new UsageError(
      `--${kind} ${source}: ${(error as NodeJS.ErrnoException).code ?? "unreadable"}`,
      "chat",
    );
  }
  const dataUrl = `data:${mediaType};base64,${bytes.toString("base64")}`;
  return kind === "image"
    ? { type: "image_url", image_url: { url: dataUrl } }
    : { type: "file", file: { file_data: dataUrl, filename: source.split("/").at(-1)! } };
}
