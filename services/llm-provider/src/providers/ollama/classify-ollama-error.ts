import { FailureClass, UpstreamError, classifyHttpStatus, parseRetryAfterMs } from "../../domain/failure.js";

/** Ollama's wording when the input does not fit the model's context ("input length exceeds the context length"). */
const CONTEXT_WINDOW_TEXT = /exceeds the context length|context length exceeded|context window/i;

export interface OllamaErrorResponse {
  status: number;
  /** The raw body: Ollama sends `{"error":"…"}`, proxies in front of it may send anything. */
  body: string;
  header: (name: string) => string | null | undefined;
}

/** A non-2xx answer of Ollama → classified failure, with Ollama's own message. */
export function classifyOllamaError(
  { status, body, header }: OllamaErrorResponse,
  now: number,
): UpstreamError {
  const providerMessage = readErrorMessage(body) ?? `HTTP ${status}`;
  let failure = classifyHttpStatus(status);
  if ((status === 400 || status === 500) && CONTEXT_WINDOW_TEXT.test(providerMessage)) {
    failure = FailureClass.contextWindowExceeded;
  }
  const retryAfterMs = parseRetryAfterMs(header, now);
  return new UpstreamError(failure, `provider answered ${status}: ${providerMessage}`, {
    status,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
}

function readErrorMessage(body: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    const error = (parsed as { error?: unknown } | null)?.error;
    if (typeof error === "string") return error;
  } catch {
    // not JSON: a proxy's page, quoted below
  }
  const text = body.trim();
  return text === "" ? undefined : text.slice(0, 200);
}
