import type { z } from "zod";
import { quoteValue } from "./errors.js";

/** One refusal in words: the request field it is about, and the rule it broke. */
export interface IssueDescription {
  path: PropertyKey[];
  message: string;
}

type Issue = z.core.$ZodIssue;

/**
 * Zod's own wording for the rules it checks: "Invalid input" for a union (which rule?), "Too big:
 * expected array to have <=2048 items" (got how many?). A message a schema wrote itself starts
 * otherwise and is kept as it is.
 */
const ZOD_DEFAULT_MESSAGE =
  /^(Invalid input|Invalid option|Invalid discriminator|Too big|Too small|Invalid string|Invalid number)/;

/**
 * `issue` as the caller should read it: the field, the limit or type it broke, and what was sent
 * (a count, a length, a type; never a long value). For a union, the alternative the value came
 * closest to, or, when it matched none at all, every alternative.
 */
export function describeIssue(issue: Issue, root: unknown): IssueDescription {
  const path = [...issue.path];
  if (!ZOD_DEFAULT_MESSAGE.test(issue.message)) return { path, message: issue.message };
  const value = valueAt(root, path);
  switch (issue.code) {
    case "invalid_union":
      // A discriminated union names its tags: the value's tag is none of them.
      if ("options" in issue && Array.isArray(issue.options))
        return { path, message: `must be ${oneOf(issue.options)}, got ${shown(value)}` };
      return describeUnion(issue, path, root);
    case "invalid_type":
      return {
        path,
        message:
          value === undefined
            ? `is required (${article(issue.expected)})`
            : `must be ${article(issue.expected)}, got ${typeName(value)}`,
      };
    case "invalid_value":
      return { path, message: `must be ${oneOf(issue.values)}, got ${shown(value)}` };
    case "too_big":
      return { path, message: sizeRule("at most", issue.maximum, issue.inclusive, issue.origin, value) };
    case "too_small":
      return { path, message: sizeRule("at least", issue.minimum, issue.inclusive, issue.origin, value) };
    default:
      return { path, message: issue.message };
  }
}

/** The branch the value came closest to; when it matched no branch's type, every alternative. */
function describeUnion(
  issue: z.core.$ZodIssueInvalidUnion,
  path: PropertyKey[],
  root: unknown,
): IssueDescription {
  const firsts = issue.errors.map((branch) => branch[0]).filter((first) => first !== undefined);
  const closest = firsts
    .filter((first) => !missesAtRoot(first))
    .sort((a, b) => b.path.length - a.path.length)[0];
  if (closest) {
    // Branches told apart by a literal (`type: "text" | "json_object" | …`): every literal counts.
    const literals = firsts.flatMap((first) =>
      first.code === "invalid_value" && samePath(first.path, closest.path) ? first.values : [],
    );
    const merged = closest.code === "invalid_value" ? { ...closest, values: literals } : closest;
    return describeIssue({ ...merged, path: [...path, ...closest.path] }, root);
  }
  if (firsts.length === 0) return { path, message: issue.message };
  const value = valueAt(root, path);
  const alternatives = [...new Set(firsts.map(alternativeOf))].join(" or ");
  return {
    path,
    message:
      value === undefined ? `is required (${alternatives})` : `must be ${alternatives}, got ${shown(value)}`,
  };
}

function samePath(a: readonly PropertyKey[], b: readonly PropertyKey[]): boolean {
  return a.length === b.length && a.every((key, index) => key === b[index]);
}

/** A branch refused the value as a whole: wrong type, or not one of its literal values. */
function missesAtRoot(issue: Issue): boolean {
  return issue.path.length === 0 && (issue.code === "invalid_type" || issue.code === "invalid_value");
}

function alternativeOf(issue: Issue): string {
  if (issue.code === "invalid_type") return article(issue.expected);
  if (issue.code === "invalid_value") return oneOf(issue.values);
  return issue.message;
}

function sizeRule(
  bound: "at most" | "at least",
  limit: number | bigint,
  inclusive: boolean | undefined,
  origin: string,
  value: unknown,
): string {
  const exclusive = inclusive === false;
  if (origin === "array" || origin === "set") {
    const count = Array.isArray(value) ? `, got ${value.length}` : "";
    return `must have ${bound} ${exclusive ? adjust(bound, limit) : limit} items${count}`;
  }
  if (origin === "string") {
    if (bound === "at least" && Number(limit) === 1 && !exclusive) return "must not be empty";
    const length = typeof value === "string" ? `, got ${value.length}` : "";
    return `must be ${bound} ${exclusive ? adjust(bound, limit) : limit} characters long${length}`;
  }
  const comparison = exclusive ? (bound === "at most" ? "less than" : "greater than") : bound;
  return `must be ${comparison} ${limit}, got ${shown(value)}`;
}

/** The inclusive bound of an exclusive count (`< 5` items is at most 4). */
function adjust(bound: "at most" | "at least", limit: number | bigint): number {
  return bound === "at most" ? Number(limit) - 1 : Number(limit) + 1;
}

function oneOf(values: readonly unknown[]): string {
  const listed = values.map((value) => JSON.stringify(value)).join(", ");
  return values.length === 1 ? listed : `one of ${listed}`;
}

function article(type: string): string {
  if (type === "array" || type === "object" || type === "integer") return `an ${type}`;
  return `a ${type}`;
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return article(typeof value);
}

/** A value as a message may show it: short scalars as they are, anything else by its type. */
function shown(value: unknown): string {
  if (typeof value === "string") return quoteValue(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return typeName(value);
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current = root;
  for (const key of path) {
    if (typeof current !== "object" || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}
