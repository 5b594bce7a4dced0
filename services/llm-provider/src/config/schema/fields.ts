import { z } from "zod";

/**
 * Where a secret comes from: `env:NAME`, `file:/path`, or `{ env }` / `{ file }`.
 * The secret itself never appears in the configuration.
 */
export const SecretRefSchema = z.union([
  z
    .string()
    .regex(/^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$/, "must be env:NAME or file:/path")
    .transform((ref): { env: string } | { file: string } =>
      ref.startsWith("env:") ? { env: ref.slice("env:".length) } : { file: ref.slice("file:".length) },
    ),
  z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/) }),
  z.strictObject({ file: z.string().min(1) }),
]);
export type SecretRef = z.output<typeof SecretRefSchema>;

/** The id of a provider or fallback chain, which models and chains refer to. */
export const IdentifierSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, "lowercase letters, digits, '_', '.', '-'");
