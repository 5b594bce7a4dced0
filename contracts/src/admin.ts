import { z } from "zod";

/**
 * The live configuration's admin requests (`llm-provider.admin.…`), served by the workers and sent
 * only by the config-admin NATS identity (the server refuses everyone else): the same validation,
 * diff and compare-and-set as `llm-provider config …`.
 */

/** Largest configuration document taken as text (the request itself is bounded by max_payload). */
const MAX_DOCUMENT_CHARS = 512 * 1024;

const ConfigDocumentSchema = z
  .union([z.string().min(1).max(MAX_DOCUMENT_CHARS), z.record(z.string(), z.unknown())])
  .describe(
    "The whole configuration file: YAML or JSON text, or the parsed object. Validated as a worker validates its file at start; only providers, models and fallback_chains are stored",
  );

export const ApplyConfigSchema = z
  .strictObject({
    config: ConfigDocumentSchema,
    expected_revision: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe("Write only over this stored revision (0: nothing stored yet); unset: the revision read now"),
  })
  .describe(
    "ADM-001 ApplyConfig: validate a configuration whole and store its live sections by compare-and-set",
  );
export type ApplyConfig = z.input<typeof ApplyConfigSchema>;

export const DiffConfigSchema = z
  .strictObject({ config: ConfigDocumentSchema })
  .describe("ADM-002 DiffConfig: what applying this configuration would change; nothing is written");
export type DiffConfig = z.input<typeof DiffConfigSchema>;

export const SetProviderActiveSchema = z
  .strictObject({
    provider_id: z.string().min(1).max(128),
    active: z.boolean(),
  })
  .describe(
    "ADM-003 SetProviderActive: take a provider out of service (or back) in the stored configuration",
  );
export type SetProviderActive = z.input<typeof SetProviderActiveSchema>;

export const SetModelAvailableSchema = z
  .strictObject({
    model: z.string().min(1).max(256),
    available: z.boolean(),
  })
  .describe("ADM-004 SetModelAvailable: mark a model unavailable (or available) in the stored configuration");
export type SetModelAvailable = z.input<typeof SetModelAvailableSchema>;

export const ConfigChangeSchema = z.object({
  change: z.enum(["added", "removed", "changed"]),
  section: z.enum(["providers", "models", "fallback_chains"]),
  id: z.string().describe("The entry's id (a model's model_name)"),
  fields: z
    .array(
      z.object({
        path: z.string().describe("Dotted path of the changed field, e.g. cost.input_per_million"),
        before: z.unknown().optional(),
        after: z.unknown().optional(),
        source: z
          .literal("catalogue")
          .optional()
          .describe("The new value comes from the model catalogue (models.dev), not from the file's entry"),
      }),
    )
    .optional()
    .describe("For `changed`: every field that differs"),
});
export type ConfigChangeEntry = z.infer<typeof ConfigChangeSchema>;

export const ConfigAdminReplySchema = z
  .object({
    revision: z
      .number()
      .int()
      .positive()
      .optional()
      .describe("The revision written; unset when nothing was (a diff, or an edit that changes nothing)"),
    previous_revision: z
      .number()
      .int()
      .positive()
      .optional()
      .describe("The stored revision read first; unset when nothing was stored"),
    changes: z.array(ConfigChangeSchema),
    summary: z.string().describe("The changes as `llm-provider config diff` prints them"),
  })
  .describe("Reply of every admin request");
export type ConfigAdminReply = z.infer<typeof ConfigAdminReplySchema>;
