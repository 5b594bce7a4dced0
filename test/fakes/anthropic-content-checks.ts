// What the Messages API checks in content blocks, in its words: block fields, image and document
// sources (media types, and whether the bytes are what the media type says), and prompt-cache
// breakpoints (their shape, at most 4 per request).
import { asObject, type JsonObject } from "./fake-http-server.js";

/** Fields each block type takes; any other is refused as the API does ("Extra inputs are not permitted"). */
const BLOCK_FIELDS: Record<string, readonly string[]> = {
  text: ["type", "text", "cache_control", "citations"],
  image: ["type", "source", "cache_control"],
  document: ["type", "source", "cache_control", "title", "context", "citations"],
  tool_use: ["type", "id", "name", "input", "cache_control", "caller"],
  tool_result: ["type", "tool_use_id", "content", "is_error", "cache_control"],
  thinking: ["type", "thinking", "signature"],
  redacted_thinking: ["type", "data"],
};
const TOOL_RESULT_BLOCKS = ["text", "image", "document"];
const IMAGE_MEDIA_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"];
export const MAX_CACHE_BREAKPOINTS = 4;

/** The media type a payload's first bytes say it is (the API sniffs images and PDFs). */
function sniffMediaType(bytes: Buffer): string | undefined {
  if (bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])))
    return "image/png";
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "image/jpeg";
  if (bytes.subarray(0, 4).toString("latin1") === "GIF8") return "image/gif";
  if (
    bytes.subarray(0, 4).toString("latin1") === "RIFF" &&
    bytes.subarray(8, 12).toString("latin1") === "WEBP"
  )
    return "image/webp";
  if (bytes.subarray(0, 5).toString("latin1") === "%PDF-") return "application/pdf";
  return undefined;
}

function decodeBase64(data: unknown): Buffer | undefined {
  if (
    typeof data !== "string" ||
    data === "" ||
    !/^[A-Za-z0-9+/]*={0,2}$/.test(data) ||
    data.length % 4 !== 0
  )
    return undefined;
  return Buffer.from(data, "base64");
}

function checkUrlSource(path: string, source: JsonObject): string | undefined {
  if (typeof source["url"] !== "string") return `${path}.source.url.url: Field required`;
  if (!/^https?:\/\//.test(source["url"])) return `${path}.source.url.url: URL must use http or https`;
  return undefined;
}

function checkImage(path: string, block: JsonObject): string | undefined {
  const source = asObject(block["source"]);
  if (source === undefined) return `${path}.image.source: Field required`;
  if (source["type"] === "url") return checkUrlSource(`${path}.image`, source);
  if (source["type"] !== "base64")
    return `${path}.image.source: Input tag '${String(source["type"])}' found using 'type' does not match any of the expected tags: 'base64', 'url', 'file'`;
  const mediaType = String(source["media_type"]);
  if (!IMAGE_MEDIA_TYPES.includes(mediaType))
    return `${path}.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'`;
  const bytes = decodeBase64(source["data"]);
  if (bytes === undefined) return `${path}.image.source.base64.data: Invalid base64 data`;
  const actual = sniffMediaType(bytes);
  if (actual !== mediaType)
    return actual === undefined || !IMAGE_MEDIA_TYPES.includes(actual)
      ? `${path}.image.source.base64.data: Could not process image`
      : `${path}.image.source.base64.data: The image was specified using the ${mediaType} media type, but the image appears to be a ${actual} image`;
  return undefined;
}

function checkDocument(path: string, block: JsonObject): string | undefined {
  const source = asObject(block["source"]);
  if (source === undefined) return `${path}.document.source: Field required`;
  switch (source["type"]) {
    case "url":
      return checkUrlSource(`${path}.document`, source);
    case "text":
      if (source["media_type"] !== "text/plain")
        return `${path}.document.source.text.media_type: Input should be 'text/plain'`;
      return typeof source["data"] === "string"
        ? undefined
        : `${path}.document.source.text.data: Field required`;
    case "base64": {
      if (source["media_type"] !== "application/pdf")
        return `${path}.document.source.base64.media_type: Input should be 'application/pdf'`;
      const bytes = decodeBase64(source["data"]);
      return bytes !== undefined && sniffMediaType(bytes) === "application/pdf"
        ? undefined
        : `${path}.document.source.base64.data: The PDF specified was not valid.`;
    }
    default:
      return `${path}.document.source: Input tag '${String(source["type"])}' found using 'type' does not match any of the expected tags: 'base64', 'content', 'text', 'url', 'file'`;
  }
}

function checkCacheControl(path: string, block: JsonObject): string | undefined {
  if (block["cache_control"] === undefined || block["cache_control"] === null) return undefined;
  const cacheControl = asObject(block["cache_control"]);
  if (cacheControl?.["type"] !== "ephemeral")
    return `${path}.cache_control: Input tag '${String(cacheControl?.["type"])}' found using 'type' does not match any of the expected tags: 'ephemeral'`;
  const ttl = cacheControl["ttl"];
  if (ttl !== undefined && ttl !== "5m" && ttl !== "1h")
    return `${path}.cache_control.ephemeral.ttl: Input should be '5m' or '1h'`;
  for (const field of Object.keys(cacheControl))
    if (field !== "type" && field !== "ttl")
      return `${path}.cache_control.ephemeral.${field}: Extra inputs are not permitted`;
  return undefined;
}

/** A block of a turn (or of a tool result): its fields, its source, its breakpoint, its nested blocks. */
export function checkBlock(path: string, block: JsonObject, allowed?: readonly string[]): string | undefined {
  const type = String(block["type"]);
  const fields = BLOCK_FIELDS[type];
  if (fields === undefined || (allowed !== undefined && !allowed.includes(type)))
    return `${path}: Input tag '${type}' found using 'type' does not match any of the expected tags: ${(allowed ?? Object.keys(BLOCK_FIELDS)).map((tag) => `'${tag}'`).join(", ")}`;
  for (const field of Object.keys(block))
    if (!fields.includes(field)) return `${path}.${type}.${field}: Extra inputs are not permitted`;
  const problem =
    checkCacheControl(`${path}.${type}`, block) ??
    (type === "image" ? checkImage(path, block) : undefined) ??
    (type === "document" ? checkDocument(path, block) : undefined);
  if (problem !== undefined || type !== "tool_result" || !Array.isArray(block["content"])) return problem;
  for (const [index, nested] of block["content"].entries()) {
    const nestedProblem = checkBlock(
      `${path}.tool_result.content.${index}`,
      asObject(nested) ?? {},
      TOOL_RESULT_BLOCKS,
    );
    if (nestedProblem !== undefined) return nestedProblem;
  }
  return undefined;
}

/** `system`: a string, or text blocks. */
export function checkSystem(system: unknown): string | undefined {
  if (system === undefined || typeof system === "string") return undefined;
  if (!Array.isArray(system)) return "system: Input should be a valid string or a valid list";
  for (const [index, block] of system.entries()) {
    const problem = checkBlock(`system.${index}`, asObject(block) ?? {}, ["text"]);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** Every block of the request that carries a breakpoint: tools, system blocks, turns, tool results. */
export function countCacheBreakpoints(body: JsonObject): number {
  const has = (value: unknown) => asObject(value)?.["cache_control"] != null;
  let count = 0;
  const countBlocks = (blocks: unknown) => {
    if (!Array.isArray(blocks)) return;
    for (const block of blocks) {
      if (has(block)) count++;
      countBlocks(asObject(block)?.["content"]);
    }
  };
  for (const tool of Array.isArray(body["tools"]) ? body["tools"] : []) if (has(tool)) count++;
  countBlocks(body["system"]);
  for (const message of Array.isArray(body["messages"]) ? body["messages"] : [])
    countBlocks(asObject(message)?.["content"]);
  return count;
}

/** Breakpoints beyond the API's four are refused, in its words. */
export function checkCacheBreakpointCount(body: JsonObject): string | undefined {
  const count = countCacheBreakpoints(body);
  return count > MAX_CACHE_BREAKPOINTS
    ? `A maximum of ${MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. Found ${count}.`
    : undefined;
}

/** Tools: a breakpoint's shape. */
export function checkTools(tools: unknown): string | undefined {
  if (!Array.isArray(tools)) return undefined;
  for (const [index, tool] of tools.entries()) {
    const problem = checkCacheControl(`tools.${index}.custom`, asObject(tool) ?? {});
    if (problem !== undefined) return problem;
  }
  return undefined;
}
