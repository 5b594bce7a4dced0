/**
 * KV keys allow `[-/=.\w]+`, and `.` separates tokens: ids such as provider ids (which may hold
 * `.`) or model names (`llama3:8b`) go into keys base64url-encoded.
 */
export function toKvToken(id: string): string {
  return Buffer.from(id).toString("base64url");
}

export function fromKvToken(token: string): string {
  return Buffer.from(token, "base64url").toString();
}
