import { createHash } from "node:crypto";

/**
 * The SHA-256 (hex) of `parts` joined by NUL, which neither callers, subjects nor request ids
 * contain: no caller can make two different lists of parts hash alike by moving a separator.
 */
export function hashParts(parts: readonly string[]): string {
  const hash = createHash("sha256");
  parts.forEach((part, index) => {
    if (index > 0) hash.update("\0");
    hash.update(part);
  });
  return hash.digest("hex");
}
