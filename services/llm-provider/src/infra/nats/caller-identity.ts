import { callerContextOf, callerSubject } from "@llm-provider/contracts";
import type { RequestSubject } from "@llm-provider/contracts";

/** The caller of every request when callers are not told apart (one account, development). */
export const ANONYMOUS_CALLER = "anonymous";

/** How a worker learns who sent a request: from the subject it arrived on, never from the body or a header. */
export interface CallerIdentity {
  /** The subject a worker subscribes to for one of the request subjects. */
  servingSubject(subject: RequestSubject): string;
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
    return { servingSubject: (subject) => subject, callerOf: () => ANONYMOUS_CALLER };
  }
  const served = new Set(contexts);
  return {
    servingSubject: (subject) => callerSubject("*", subject),
    callerOf(subject) {
      const context = callerContextOf(subject);
      return context !== undefined && served.has(context) ? context : undefined;
    },
  };
}
