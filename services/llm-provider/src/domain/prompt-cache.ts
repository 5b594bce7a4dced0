import type { CacheControl, ChatMessage, CompleteChat } from "@llm-provider/contracts";
import type { ModelEntry } from "./catalog.js";

/** Anthropic takes at most four breakpoints per request. */
export const MAX_CACHE_BREAKPOINTS = 4;

const EPHEMERAL: CacheControl = { type: "ephemeral" };

/** Breakpoints the request sets itself: on tools, messages and content parts. */
export function countCacheBreakpoints(request: CompleteChat): number {
  let count = 0;
  for (const tool of request.tools ?? []) if (tool.cache_control) count++;
  for (const message of request.messages) {
    if (message.cache_control) count++;
    if (Array.isArray(message.content)) for (const part of message.content) if (part.cache_control) count++;
  }
  return count;
}

/**
 * `prompt_cache: "auto"`: breakpoints where a next request repeats the prompt — after the tools,
 * after the system prompt, after the last user turn (written now, read by the next turn) and after
 * the one before it (read now) — as long as the request's own breakpoints leave room. The request
 * is returned unchanged when it does not ask for auto mode.
 */
export function withAutomaticCacheBreakpoints(request: CompleteChat): CompleteChat {
  if (request.prompt_cache !== "auto") return request;
  let room = MAX_CACHE_BREAKPOINTS - countCacheBreakpoints(request);
  const tools = request.tools?.map((tool) => ({ ...tool }));
  const messages = request.messages.map((message) => ({ ...message }));
  const lastTool = tools?.at(-1);
  if (lastTool && room > 0 && !tools!.some((tool) => tool.cache_control)) {
    lastTool.cache_control = EPHEMERAL;
    room--;
  }
  const lastSystem = findLastIndex(
    messages,
    (message) => message.role === "system" || message.role === "developer",
  );
  const userTurns = messages.flatMap((message, index) => (message.role === "user" ? [index] : []));
  for (const index of [lastSystem, userTurns.at(-1), userTurns.at(-2)]) {
    if (index === undefined || index < 0 || room === 0) continue;
    const message = messages[index]!;
    if (hasBreakpoint(message)) continue;
    message.cache_control = EPHEMERAL;
    room--;
  }
  return tools ? { ...request, tools, messages } : { ...request, messages };
}

function hasBreakpoint(message: ChatMessage): boolean {
  return (
    message.cache_control !== undefined ||
    (Array.isArray(message.content) && message.content.some((part) => part.cache_control !== undefined))
  );
}

function findLastIndex<T>(items: readonly T[], predicate: (item: T) => boolean): number {
  for (let index = items.length - 1; index >= 0; index--) if (predicate(items[index]!)) return index;
  return -1;
}

/**
 * `warnings` with one more when the request sets cache breakpoints (or auto mode) and the answering
 * model takes none: they were not sent, and the caller should know its cache plan did nothing.
 */
export function withCacheBreakpointWarning(
  warnings: string[],
  request: CompleteChat,
  model: ModelEntry,
): string[] {
  if (model.features.prompt_caching) return warnings;
  if (request.prompt_cache !== "auto" && countCacheBreakpoints(request) === 0) return warnings;
  return [
    ...warnings,
    `cache_control not sent: model '${model.model_name}' takes no prompt-cache breakpoints ` +
      "(providers that cache by themselves, as OpenAI does, still report cached_input_tokens)",
  ];
}
