import OpenAI from "openai";
import { z } from "zod";
import { FailureClass, UpstreamError } from "../../domain/failure.js";
import type { BatchItemResult } from "../../ports/provider-batch-client.js";
import { classifyOpenAIError } from "./classify-openai-error.js";

/** One line of a Batch output or error file; lenient: only the fields used. */
const openAIBatchLineSchema = z.object({
  custom_id: z.string(),
  response: z.object({ status_code: z.number().int(), body: z.unknown() }).nullish(),
  error: z.object({ code: z.string().nullish(), message: z.string().nullish() }).nullish(),
});

/** Per-request error codes OpenAI writes for requests the batch never ran. */
const FAILURE_BY_BATCH_ERROR_CODE: Record<string, FailureClass> = {
  // The completion window passed first: the same request may well succeed in a new batch.
  batch_expired: FailureClass.timeout,
  batch_cancelled: FailureClass.serverError,
};

/**
 * The JSONL of a Batch output file and error file → one result per line: the body of a 200
 * converted by `convert` (a body `convert` refuses is that item's `malformed_response`), any other
 * status classified as the same status of a direct call would be, a request that never ran by its
 * batch error code. A line that is not a batch line is skipped: it names no request to report on.
 */
export function convertOpenAIBatchResults<T>(
  jsonl: string,
  convert: (body: unknown) => T,
  now: number,
): BatchItemResult<T>[] {
  const results: BatchItemResult<T>[] = [];
  for (const text of jsonl.split("\n")) {
    if (text.trim() === "") continue;
    const line = parseLine(text);
    if (line === undefined) continue;
    results.push(convertLine(line, convert, now));
  }
  return results;
}

function parseLine(text: string): z.infer<typeof openAIBatchLineSchema> | undefined {
  try {
    const parsed = openAIBatchLineSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function convertLine<T>(
  line: z.infer<typeof openAIBatchLineSchema>,
  convert: (body: unknown) => T,
  now: number,
): BatchItemResult<T> {
  const customId = line.custom_id;
  const response = line.response;
  if (response && response.status_code === 200) {
    try {
      return { customId, outcome: convert(response.body) };
    } catch (error) {
      if (error instanceof UpstreamError) return { customId, error };
      throw error;
    }
  }
  if (response) {
    // Built as the SDK builds a direct call's error, so both are classified by the same rules.
    const apiError = OpenAI.APIError.generate(
      response.status_code,
      response.body as object | undefined,
      undefined,
      new Headers(),
    );
    const error =
      classifyOpenAIError(apiError, now) ??
      new UpstreamError(FailureClass.serverError, `provider answered ${response.status_code}`);
    return { customId, error };
  }
  const code = line.error?.code ?? "unknown";
  return {
    customId,
    error: new UpstreamError(
      FAILURE_BY_BATCH_ERROR_CODE[code] ?? FailureClass.serverError,
      `provider batch did not run the request: ${code}: ${line.error?.message ?? "no message"}`,
      { providerCode: code },
    ),
  };
}
