// POST /v1/embeddings: a deterministic unit vector per text, as floats or base64 like OpenAI's.
import { asObject, estimateTokens } from "../fake-http-server.js";
import { INVALID_JSON_BODY, MISSING_MODEL, invalidRequest, missingParameter } from "./errors.js";
import { sendError, sendJson } from "./responses.js";
import type { Exchange, ServerState } from "./server-state.js";

const DEFAULT_EMBEDDING_DIMENSIONS = 8;
/** text-embedding-3-*'s input limit: a longer input fails the whole request, as OpenAI's does. */
const MAX_INPUT_TOKENS = 8_192;

/** `input` as texts: a string, strings, or token arrays (joined so they still hash deterministically). */
function embeddingInputs(input: unknown): string[] | undefined {
  if (typeof input === "string") return [input];
  if (!Array.isArray(input) || input.length === 0) return undefined;
  if (input.every((item) => typeof item === "number")) return [input.join(" ")];
  const texts: string[] = [];
  for (const item of input) {
    if (typeof item === "string") texts.push(item);
    else if (Array.isArray(item)) texts.push(item.join(" "));
    else return undefined;
  }
  return texts;
}

/** FNV-1a over UTF-16 code units: a cheap, stable seed per text. */
function hashText(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** mulberry32: a tiny seeded PRNG returning floats in [0, 1). */
function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A unit-length vector derived only from the text, in float32 precision like OpenAI's. */
export function fakeEmbedding(text: string, dimensions: number): Float32Array {
  const random = seededRandom(hashText(text));
  const vector = new Float32Array(dimensions);
  let sumOfSquares = 0;
  for (let i = 0; i < dimensions; i++) {
    const value = random() * 2 - 1;
    vector[i] = value;
    sumOfSquares += value * value;
  }
  const norm = Math.sqrt(sumOfSquares) || 1;
  for (let i = 0; i < dimensions; i++) vector[i] = (vector[i] ?? 0) / norm;
  return vector;
}

/** base64 of little-endian float32 bytes, exactly what OpenAI sends for `encoding_format: "base64"`. */
function toBase64Float32(vector: Float32Array): string {
  const bytes = Buffer.allocUnsafe(vector.length * 4);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i] ?? 0, i * 4);
  return bytes.toString("base64");
}

export function answerEmbeddings(state: ServerState, exchange: Exchange): void {
  const request = asObject(exchange.body);
  if (!request) return sendError(state, exchange, INVALID_JSON_BODY);
  const model = request["model"];
  if (typeof model !== "string" || !model) return sendError(state, exchange, MISSING_MODEL);
  if (request["input"] === undefined) return sendError(state, exchange, missingParameter("input"));
  const texts = embeddingInputs(request["input"]);
  if (!texts) {
    return sendError(
      state,
      exchange,
      invalidRequest("'$.input' is invalid. Please check the API reference."),
    );
  }
  const tooLong = texts
    .map((text) => estimateTokens(text.length))
    .find((tokens) => tokens > MAX_INPUT_TOKENS);
  if (tooLong !== undefined) {
    return sendError(
      state,
      exchange,
      invalidRequest(
        `This model's maximum context length is ${MAX_INPUT_TOKENS} tokens, however you requested ${tooLong} tokens (${tooLong} in your prompt; 0 for the completion). Please reduce your prompt; or completion length.`,
        null,
        "context_length_exceeded",
      ),
    );
  }
  const requested = request["dimensions"];
  const dimensions =
    typeof requested === "number" && requested > 0 ? Math.floor(requested) : DEFAULT_EMBEDDING_DIMENSIONS;
  const asBase64 = request["encoding_format"] === "base64";

  let chars = 0;
  const data = texts.map((text, index) => {
    chars += text.length;
    const vector = fakeEmbedding(text, dimensions);
    return { object: "embedding", index, embedding: asBase64 ? toBase64Float32(vector) : Array.from(vector) };
  });
  const promptTokens = estimateTokens(chars);
  sendJson(state, exchange, 200, {
    object: "list",
    data,
    model,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  });
}
