/**
 * Reply subjects the service answers: inboxes of request/reply (`_INBOX.`), the server's response
 * mapping of a cross-account import (`_R_.`) and configured per-user inbox prefixes. A worker
 * answers with its own rights, so a reply aimed anywhere else — `$JS.API.…`, `$KV.…`, an event
 * subject — would make it act for the caller (a confused deputy); such requests are not served.
 */
export const INBOX_PREFIXES = ["_INBOX.", "_R_."] as const;

export function isInboxSubject(reply: string | undefined, prefixes: readonly string[]): reply is string {
  if (reply === undefined || reply === "") return false;
  if (!prefixes.some((prefix) => reply.startsWith(prefix) && reply.length > prefix.length)) return false;
  // One concrete subject: no wildcard token, no empty token, no whitespace.
  for (const token of reply.split(".")) {
    if (token === "" || token === "*" || token === ">" || /\s/.test(token)) return false;
  }
  return true;
}
