import { limitsOf } from "../domain/catalog.js";
import type { Target } from "../domain/catalog.js";
import type { ChatCall, ChatDelta, ProviderClient } from "../ports/provider-client.js";
import { consumeChatStream } from "./consume-chat-stream.js";
import type { ConsumedStream } from "./consume-chat-stream.js";
import type { AttemptBudget } from "./execute-with-fallback.js";

/**
 * One streamed attempt on `target`: its first piece due within the target's first-byte limit (or
 * the attempt's budget, when that is shorter), no gap longer than its idle limit; every delta
 * handed to `forward` as it comes.
 */
export function streamAttempt(
  client: ProviderClient,
  call: ChatCall,
  target: Target,
  budget: AttemptBudget,
  forward: (delta: ChatDelta) => void,
): Promise<ConsumedStream> {
  const stall = new AbortController();
  const parts = client.streamChat!({ ...call, signal: AbortSignal.any([call.signal, stall.signal]) });
  const limits = limitsOf(target);
  return consumeChatStream(
    parts,
    forward,
    {
      firstChunkMs: Math.round(Math.min(limits.first_byte_timeout_ms, budget.budgetMs)),
      idleMs: limits.idle_timeout_ms,
    },
    () => stall.abort(),
  );
}

/**
 * Whether `complete_chat` reads this target's answer as a stream: then a silent upstream, a slow
 * first token or a stall is caught by the first-byte and idle limits, where a non-streamed answer
 * (whose first byte comes only once it is whole) could only be cut at its overall time limit.
 */
export function readsAsStream(target: Target, client: ProviderClient | undefined): boolean {
  return (
    target.provider.config.stream_upstream &&
    target.model.features.streaming &&
    client?.streamChat !== undefined
  );
}
