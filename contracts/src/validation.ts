import type { z } from "zod";
import { LlmProviderError } from "./errors.js";

/** `messages[0].content` style path of a zod issue. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out === "" ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

/** Turns the first zod issue into an `invalid_request` error that names the field. */
export function toInvalidRequestError(error: z.ZodError): LlmProviderError {
  const issue = error.issues[0];
  if (issue === undefined)
    return new LlmProviderError("invalid_request", "request does not match the schema");
  let path = issue.path;
  let message = issue.message;
  if (issue.code === "unrecognized_keys") {
    // Unknown settings are rejected, never silently dropped: name the first one.
    path = [...issue.path, issue.keys[0] ?? ""];
    message = `unknown field${issue.keys.length > 1 ? "s" : ""}: ${issue.keys.join(", ")}`;
  }
  const field = formatIssuePath(path);
  return new LlmProviderError("invalid_request", field === "" ? message : `${field}: ${message}`, {
    field: field === "" ? undefined : field,
  });
}

/** Parses `value` with `schema` or throws the typed `invalid_request` error. */
export function parseRequest<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw toInvalidRequestError(result.error);
  return result.data;
}
