/** Whether input is piped in (stdin is not a terminal): a prompt or text may be read from it. */
export function stdinIsPiped(stdin: { isTTY?: boolean }): boolean {
  return stdin.isTTY !== true;
}

/** All of stdin as UTF-8 text. */
export async function readAll(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString("utf8");
}
