import { LlmProviderError } from "@llm-provider/contracts";
import type { CompleteChat, StreamChunk } from "@llm-provider/contracts";
import type { Target } from "../../domain/catalog.js";
import { asksForReasoning } from "../../domain/chat-requirements.js";
import { failureTraits, UpstreamError } from "../../domain/failure.js";
import type { ChatDelta, ProviderClient } from "../../ports/provider-client.js";
import type { ConsumedStream } from "../../routing/consume-chat-stream.js";
import type { AttemptBudget } from "../../routing/execute-with-fallback.js";
import { streamAttempt } from "../../routing/stream-attempt.js";
import type { RequestContext, StreamWriter } from "../../ports/request-handler.js";
import { chatCallFor } from "./route-chat.js";

/** A failure after output that the next target's answer is announced against. */
interface Interruption {
  from: Target;
  error: UpstreamError;
}

/** What one attempt has done so far. */
interface AttemptState {
  output: boolean;
  /** Whitespace the caller already has, to drop from the start of a continuation. */
  trimmed: string;
}

/**
 * Relays one `stream_chat` answer to the caller's `StreamWriter` across the attempts of its
 * targets, and holds what the caller has been sent. A failure after output is final when the
 * caller cannot take a restart; otherwise the next target's first piece is preceded by a
 * `restart` message and that target either starts over or, in `continue` mode on a model that
 * takes an assistant prefill, continues the text the caller holds.
 */
export class StreamRelay {
  /** Chunks the caller holds since the last restart. */
  #heldChunks = 0;
  /** Their text. */
  #heldContent = "";
  #interrupted: Interruption | undefined;
  #restarts = 0;
  readonly #writer: StreamWriter;
  readonly #request: CompleteChat;
  readonly #context: RequestContext;
  /** Whether the caller takes a restart (stream protocol 2, rescue not off). */
  readonly #rescue: boolean;

  constructor(writer: StreamWriter, request: CompleteChat, context: RequestContext, rescue: boolean) {
    this.#writer = writer;
    this.#request = request;
    this.#context = context;
    this.#rescue = rescue;
  }

  /** The answer's text as the caller holds it. */
  get content(): string {
    return this.#heldContent;
  }

  /** How many times another target took the answer over. */
  get restarts(): number {
    return this.#restarts;
  }

  /** One streamed attempt on `target`, each piece relayed to the caller as it comes. */
  attempt(
    client: ProviderClient,
    target: Target,
    signal: AbortSignal,
    budget: AttemptBudget,
  ): Promise<ConsumedStream> {
    const continuing =
      this.#interrupted !== undefined &&
      this.#request.stream_rescue === "continue" &&
      target.model.features.assistant_prefill === true &&
      // A model that thinks first takes no prefill (Anthropic refuses the pair): it starts over.
      !asksForReasoning(this.#request) &&
      this.#heldContent.trim() !== "";
    // A prefill ends without whitespace (providers refuse it); the whitespace the caller already
    // has is dropped from the start of the continuation instead.
    const prefill = continuing ? this.#heldContent.trimEnd() : undefined;
    const request = prefill === undefined ? this.#request : withAssistantPrefill(this.#request, prefill);
    const state: AttemptState = {
      output: false,
      trimmed: prefill === undefined ? "" : this.#heldContent.slice(prefill.length),
    };
    const call = chatCallFor(target, request, signal, this.#context);
    return streamAttempt(client, call, target, budget, (delta) =>
      this.#forward(delta, target, continuing, state),
    ).catch((error: unknown) => {
      throw this.#failed(error, target, state.output);
    });
  }

  #forward(delta: ChatDelta, target: Target, continuing: boolean, state: AttemptState): void {
    if (!state.output && this.#interrupted) this.#announceRestart(this.#interrupted, target, continuing);
    state.output = true;
    if (state.trimmed !== "" && delta.content !== undefined) {
      const content = delta.content.startsWith(state.trimmed)
        ? delta.content.slice(state.trimmed.length)
        : delta.content;
      state.trimmed = "";
      delta = { ...delta, content };
    }
    this.#writer.write(toWireDelta(delta));
    this.#heldChunks++;
    this.#heldContent += delta.content ?? "";
  }

  /** The restart message: who failed and why, who takes over, what the caller drops. */
  #announceRestart(interrupted: Interruption, to: Target, continuing: boolean): void {
    const ref = (target: Target) => ({ provider_id: target.provider.id, model: target.model.model_name });
    this.#writer.restart({
      mode: continuing ? "continue" : "restart",
      reason: {
        code: failureTraits(interrupted.error.failure).errorCode,
        message: interrupted.error.message,
      },
      from: ref(interrupted.from),
      to: ref(to),
      discarded_chunks: continuing ? 0 : this.#heldChunks,
    });
    if (!continuing) {
      this.#heldChunks = 0;
      this.#heldContent = "";
    }
    this.#interrupted = undefined;
    this.#restarts++;
  }

  /**
   * What an attempt's failure becomes: before output, as it is (routing may retry or fall back);
   * after output, final for a caller that cannot take a restart, else remembered for the restart.
   */
  #failed(error: unknown, target: Target, output: boolean): unknown {
    if (!output || !(error instanceof UpstreamError)) return error;
    if (!this.#rescue) return interruptedForGood(error, this.#heldChunks);
    this.#interrupted = { from: target, error };
    return error;
  }
}

/** A failure after output, for a caller that cannot take a restart: final, no retry, no fallback. */
function interruptedForGood(error: UpstreamError, chunks: number): LlmProviderError {
  return new LlmProviderError(failureTraits(error.failure).errorCode, error.message, {
    retryable: false,
    details: { failure: error.failure, chunks },
  });
}

/** The request with the partial answer as a final assistant message, to be continued. */
function withAssistantPrefill(request: CompleteChat, prefill: string): CompleteChat {
  return { ...request, messages: [...request.messages, { role: "assistant", content: prefill }] };
}

function toWireDelta(delta: ChatDelta): StreamChunk["delta"] {
  const wire: StreamChunk["delta"] = {};
  if (delta.content !== undefined) wire.content = delta.content;
  if (delta.reasoning !== undefined) wire.reasoning_content = delta.reasoning;
  if (delta.toolCalls !== undefined) wire.tool_calls = delta.toolCalls;
  if (delta.functionCall !== undefined) wire.function_call = delta.functionCall;
  return wire;
}
