import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ChatMessageSchema, CompleteChatSchema } from "./chat.js";
import { GenerateEmbeddingSchema } from "./embedding.js";
import { REFUSED_OPENAI_CHAT_FIELDS } from "./openai-fields.js";

const DOC = fileURLToPath(new URL("../../docs/openai-compatibility.md", import.meta.url));

/** The fields in the first column of the doc's tables. */
async function documentedFields(): Promise<Set<string>> {
  const text = await readFile(DOC, "utf8");
  return new Set([...text.matchAll(/^\| `([a-z_]+)`/gm)].map((match) => match[1]!));
}

describe("docs/openai-compatibility.md", () => {
  it("lists every field the requests take and every OpenAI field refused, with the same reason", async () => {
    const documented = await documentedFields();
    const taken = [...Object.keys(CompleteChatSchema.shape), ...Object.keys(GenerateEmbeddingSchema.shape)];
    for (const field of [...taken, ...Object.keys(REFUSED_OPENAI_CHAT_FIELDS)])
      expect(documented, `docs/openai-compatibility.md does not list '${field}'`).toContain(field);
    const text = await readFile(DOC, "utf8");
    for (const [field, reason] of Object.entries(REFUSED_OPENAI_CHAT_FIELDS)) {
      const row = text.split("\n").find((line) => line.startsWith(`| \`${field}\``))!;
      expect(row.replace(/`/g, ""), field).toContain(reason);
    }
  });

  it("refuses no field the contract takes", () => {
    const taken = new Set([
      ...Object.keys(CompleteChatSchema.shape),
      ...Object.keys(ChatMessageSchema.shape),
    ]);
    for (const field of Object.keys(REFUSED_OPENAI_CHAT_FIELDS)) expect(taken).not.toContain(field);
  });
});
