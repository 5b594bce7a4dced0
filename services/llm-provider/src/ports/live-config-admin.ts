import type { ConfigAdminReply } from "@llm-provider/contracts";

/**
 * The live configuration's admin actions (validation, diff, compare-and-set write), as the admin
 * subjects' handlers use them; the same code as `llm-provider config …`.
 */
export interface LiveConfigAdmin {
  /** Validates `document` (YAML/JSON text or an object) whole; writes its live sections when `write`. */
  apply(
    document: string | Record<string, unknown>,
    options: { write: boolean; expectRevision?: number | undefined },
  ): Promise<ConfigAdminReply>;
  /** Sets `providers[].is_active` or `models[].is_available` in the stored configuration. */
  setFlag(options: { what: "provider" | "model"; id: string; on: boolean }): Promise<ConfigAdminReply>;
}
