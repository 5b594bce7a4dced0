/**
 * Reply subjects the service answers: inboxes of request/reply (`_INBOX.`), the server's response
 * mapping of a cross-account import (`_R_.`) and configured per-user inbox prefixes. A worker
 * answers with its own rights, so a reply aimed anywhere else — `$JS.API.…`, `$KV.…`, an event
 * subject — would make it act for the caller (a confused deputy); such requests are not served.
 */
export const INBOX_PREFIXES = ["_INBOX.", "_R_."] as const;

/** An empty token, a wildcard token or whitespace: not one concrete subject. */
const NOT_CONCRETE = /(?:^|\.)[*>]?(?:\.|$)|\s/;

/** Checked for every request, refused ones too: one precompiled test, no split. */
export function isInboxSubject(reply: string | undefined, prefixes: readonly string[]): reply is string {
  if (reply === undefined || reply === "") return false;
  if (!prefixes.some((prefix) => reply.startsWith(prefix) && reply.length > prefix.length)) return false;
  return !NOT_CONCRETE.test(reply);
}
