import { ADMIN_SUBJECT_PREFIX, callerContextOf, callerSubject } from "@llm-provider/contracts";
import type { RequestSubject, ServedSubject } from "@llm-provider/contracts";

/** The caller of every request when callers are not told apart (one account, development). */
export const ANONYMOUS_CALLER = "anonymous";
/**
 * The sender of an admin request: the server lets only the config-admin user publish to
 * `llm-provider.admin.>` (with one account and no permissions, development: anyone on it).
 */
export const ADMIN_CALLER = "config-admin";

const isAdminSubject = (subject: string): boolean => subject.startsWith(ADMIN_SUBJECT_PREFIX);

/** How a worker learns who sent a request: from the subject it arrived on, never from the body or a header. */
export interface CallerIdentity {
  /** The subject a worker subscribes to for one of the request subjects. */
  servingSubject(subject: ServedSubject): string;
  /** The calling context of a message that arrived on a serving subject; undefined: not one we serve. */
  callerOf(subject: string): string | undefined;
}

/**
 * `account`: callers live in NATS accounts of their own, and each account's import of the
 * service lands on `llm-provider.ctx.<context>.…`, a token the server's per-account export sets
 * and the caller cannot choose. Only the configured contexts are served. `none`: one account,
 * the canonical subjects, every caller is `anonymous`.
 */
export function createCallerIdentity(mode: "account" | "none", contexts: Iterable<string>): CallerIdentity {
  if (mode === "none") {
    return {
      servingSubject: (subject) => subject,
      callerOf: (subject) => (isAdminSubject(subject) ? ADMIN_CALLER : ANONYMOUS_CALLER),
    };
  }
  const served = new Set(contexts);
  return {
    // The admin subjects keep their names: no caller's export (llm-provider.ctx.<context>.>) covers them.
    servingSubject: (subject) =>
      isAdminSubject(subject) ? subject : callerSubject("*", subject as RequestSubject),
    callerOf(subject) {
      if (isAdminSubject(subject)) return ADMIN_CALLER;
      const context = callerContextOf(subject);
      return context !== undefined && served.has(context) ? context : undefined;
    },
  };
}
