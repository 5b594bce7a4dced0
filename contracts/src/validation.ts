import type { z } from "zod";
import { describeIssue } from "./describe-issue.js";
import { LlmProviderError, quoteValue } from "./errors.js";

/** `messages[0].content` style path of a zod issue. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out === "" ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

/**
 * Turns the first zod issue into an `invalid_request` error that names the field and the rule it
 * broke (see `describeIssue`); `root` is the value parsed, for the counts and types a message quotes;
 * `refusedFields`: top-level fields refused with a reason of their own (`REFUSED_OPENAI_CHAT_FIELDS`).
 */
export function toInvalidRequestError(
  error: z.ZodError,
  root?: unknown,
  refusedFields: Readonly<Record<string, string>> = {},
): LlmProviderError {
  const issue = error.issues[0];
  if (issue === undefined)
    return new LlmProviderError("invalid_request", "request does not match the schema");
  let { path, message } = describeIssue(issue, root);
  if (issue.code === "unrecognized_keys") {
    // Unknown settings are rejected, never silently dropped: name the first one, and why a
    // field that OpenAI takes is not taken here.
    const first = issue.keys[0] ?? "";
    path = [...issue.path, first];
    const reason = issue.path.length === 0 ? refusedFields[first] : undefined;
    const shown = issue.keys.slice(0, 5).map(quoteValue).join(", ");
    const more = issue.keys.length > 5 ? ` and ${issue.keys.length - 5} more` : "";
    message =
      reason !== undefined
        ? `not supported: ${reason}`
        : `unknown field${issue.keys.length > 1 ? "s" : ""}: ${shown}${more}`;
  }
  const field = formatIssuePath(path);
  return new LlmProviderError("invalid_request", field === "" ? message : `${field}: ${message}`, {
    field: field === "" ? undefined : field,
  });
}

/**
 * Parses `value` with `schema` or throws the typed `invalid_request` error; `refusedFields` as
 * `toInvalidRequestError` takes them.
 */
export function parseRequest<S extends z.ZodType>(
  schema: S,
  value: unknown,
  refusedFields?: Readonly<Record<string, string>>,
): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw toInvalidRequestError(result.error, value, refusedFields);
  return result.data;
}

/**
 * How deep a request's JSON may nest. Free-form fields (`tools[].function.parameters`,
 * `response_format.json_schema.schema`) take JSON Schemas, which real tools keep far shallower;
 * a deeper body is refused before any recursive code (zod, the SDKs, logging) walks it.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * The path of the first value nested deeper than `maxDepth` (the body itself is depth 1), or
 * undefined. Iterative, so a hostile depth cannot overflow the stack here.
 */
export function findExcessiveNesting(value: unknown, maxDepth = MAX_JSON_DEPTH): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const stack: { value: object; path: PropertyKey[] }[] = [{ value, path: [] }];
  while (stack.length > 0) {
    const { value: current, path } = stack.pop()!;
    if (path.length >= maxDepth) return formatIssuePath(path);
    const entries: Iterable<[PropertyKey, unknown]> = Array.isArray(current)
      ? current.entries()
      : Object.entries(current);
    for (const [key, child] of entries) {
      if (typeof child === "object" && child !== null) stack.push({ value: child, path: [...path, key] });
    }
  }
  return undefined;
}
