import { readFileSync } from "node:fs";
import type { SecretRef } from "./schema.js";

/** Describes where a secret comes from, for messages (never the value). */
export function describeSecretRef(ref: SecretRef): string {
  return "env" in ref ? `env:${ref.env}` : `file:${ref.file}`;
}

/** Reads a secret from its reference; `undefined` when the variable is unset or the file is unreadable. */
export function resolveSecret(ref: SecretRef, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if ("env" in ref) {
    const value = env[ref.env];
    return value === undefined || value === "" ? undefined : value;
  }
  try {
    const value = readFileSync(ref.file, "utf8").trim();
    return value === "" ? undefined : value;
  } catch {
    return undefined;
  }
}
