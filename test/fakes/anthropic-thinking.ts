// Extended thinking as the Messages API does it: the `thinking` setting's checks, signed thinking
// blocks in the answer, and the checks on the way back — a thinking block must carry the signature
// the API gave it, and while thinking is on, the last assistant turn that used tools must start with
// its thinking block (the tool loop's reasoning goes back with it).
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { asObject, type JsonObject } from "./fake-http-server.js";

const THINKING_DOCS = "https://docs.claude.com/en/docs/build-with-claude/extended-thinking";
const MIN_BUDGET = 1_024;

/** Signs thinking the way only this fake can check: a signature a client cannot forge or alter. */
export interface ThinkingSigner {
  sign(thinking: string): string;
  /** `data` of a redacted_thinking block, itself signed. */
  redactedData(): string;
  verifyThinking(thinking: string, signature: string): boolean;
  verifyRedacted(data: string): boolean;
}

export function createThinkingSigner(): ThinkingSigner {
  const secret = randomBytes(32);
  const mac = (text: string) => createHmac("sha256", secret).update(text).digest();
  const same = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);
  return {
    // A version prefix and padding as real signatures have: long opaque base64.
    sign: (thinking) => Buffer.concat([Buffer.from("EqQB"), mac(`thinking:${thinking}`)]).toString("base64"),
    redactedData() {
      const nonce = randomBytes(24);
      return Buffer.concat([nonce, mac(`redacted:${nonce.toString("hex")}`)]).toString("base64");
    },
    verifyThinking(thinking, signature) {
      const expected = Buffer.concat([Buffer.from("EqQB"), mac(`thinking:${thinking}`)]);
      return same(Buffer.from(signature, "base64"), expected);
    },
    verifyRedacted(data) {
      const bytes = Buffer.from(data, "base64");
      if (bytes.length !== 24 + 32) return false;
      return same(bytes.subarray(24), mac(`redacted:${bytes.subarray(0, 24).toString("hex")}`));
    },
  };
}

/** Whether the request turns thinking on. */
export function thinkingEnabled(body: JsonObject): boolean {
  return asObject(body["thinking"])?.["type"] === "enabled";
}

/** The `thinking` setting: its shape, a budget of at least 1,024 and under max_tokens. */
export function checkThinkingSetting(body: JsonObject): string | undefined {
  if (body["thinking"] === undefined) return undefined;
  const thinking = asObject(body["thinking"]);
  const type = String(thinking?.["type"]);
  if (type === "disabled")
    return Object.keys(thinking ?? {}).find((field) => field !== "type") !== undefined
      ? "thinking.disabled: Extra inputs are not permitted"
      : undefined;
  if (type !== "enabled")
    return `thinking: Input tag '${type}' found using 'type' does not match any of the expected tags: 'adaptive', 'disabled', 'enabled'`;
  const budget = thinking?.["budget_tokens"];
  if (typeof budget !== "number" || !Number.isInteger(budget))
    return "thinking.enabled.budget_tokens: Field required";
  if (budget < MIN_BUDGET)
    return `thinking.enabled.budget_tokens: Input should be greater than or equal to ${MIN_BUDGET}`;
  if (budget >= (body["max_tokens"] as number))
    return `\`max_tokens\` must be greater than \`thinking.budget_tokens\`. Please consult our documentation at ${THINKING_DOCS}#max-tokens-and-context-window-size`;
  const choice = asObject(body["tool_choice"])?.["type"];
  if (choice === "any" || choice === "tool")
    return "Thinking may not be enabled when tool_choice forces tool use.";
  return undefined;
}

function blocksOf(turn: unknown): JsonObject[] {
  const content = asObject(turn)?.["content"];
  return Array.isArray(content) ? content.map((block) => asObject(block) ?? {}) : [];
}

/**
 * Thinking blocks coming back: each must be one this API signed, unaltered; and with thinking on,
 * the last assistant turn with a tool_use must start with a thinking block.
 */
export function checkThinkingTurns(body: JsonObject, signer: ThinkingSigner): string | undefined {
  const messages = Array.isArray(body["messages"]) ? body["messages"] : [];
  for (const [index, turn] of messages.entries()) {
    if (asObject(turn)?.["role"] !== "assistant") continue;
    for (const [position, block] of blocksOf(turn).entries()) {
      if (
        block["type"] === "thinking" &&
        !signer.verifyThinking(String(block["thinking"]), String(block["signature"]))
      )
        return `messages.${index}.content.${position}: Invalid \`signature\` in \`thinking\` block`;
      if (block["type"] === "redacted_thinking" && !signer.verifyRedacted(String(block["data"])))
        return `messages.${index}.content.${position}: Invalid \`data\` in \`redacted_thinking\` block`;
    }
  }
  if (!thinkingEnabled(body)) return undefined;
  const lastAssistant = messages.findLastIndex((turn) => asObject(turn)?.["role"] === "assistant");
  const blocks = blocksOf(messages[lastAssistant]);
  if (lastAssistant === -1 || !blocks.some((block) => block["type"] === "tool_use")) return undefined;
  const first = String(blocks[0]?.["type"]);
  if (first === "thinking" || first === "redacted_thinking") return undefined;
  return (
    `messages.${lastAssistant}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${first}\`. ` +
    "When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the " +
    "lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from previous " +
    `turns. To avoid this requirement, disable \`thinking\`. Please consult our documentation at ${THINKING_DOCS}`
  );
}

/** The thinking blocks an answer starts with: signed reasoning, and a redacted block when asked. */
export function thinkingBlocks(signer: ThinkingSigner, thinking: string, redacted: boolean): JsonObject[] {
  const blocks: JsonObject[] = [{ type: "thinking", thinking, signature: signer.sign(thinking) }];
  if (redacted) blocks.push({ type: "redacted_thinking", data: signer.redactedData() });
  return blocks;
}
