import { randomUUID } from "node:crypto";
import { LlmProviderError, STREAM_PROTOCOL, SUBJECTS } from "@llm-provider/contracts";
import type { ChatCompletion, CompleteChat, StreamChunk } from "@llm-provider/contracts";
import { upstreamModelName } from "../domain/catalog.js";
import type { Target } from "../domain/catalog.js";
import { failureTraits, UpstreamError } from "../domain/failure.js";
import { computeChatCost } from "../domain/cost.js";
import { buildChatCompleted } from "../domain/events.js";
import type { ChatDelta } from "../providers/port.js";
import type { ConsumedStream } from "../routing/consume-chat-stream.js";
import { executeWithFallback } from "../routing/execute-with-fallback.js";
import type { ExecutionResult } from "../routing/execute-with-fallback.js";
import { streamAttempt } from "../routing/stream-attempt.js";
import { recordRequestOutcome } from "../telemetry/record-request-outcome.js";
import type { StreamEndpoint, StreamResult, StreamWriter } from "./context.js";
import { elapsedMs, prepareChat, recordChatFailure, settleCallerTokens } from "./prepare-chat.js";
import type { ChatDeps } from "./prepare-chat.js";

/**
 * `llm-provider.cmd.stream_chat`: the same checks as `complete_chat`, then the answer is forwarded
 * piece by piece as the provider produces it. Before its first piece a target may be retried or
 * fallen back from as `complete_chat` does. After it, a caller of stream protocol 2 gets the
 * answer rescued: a `restart` message, then the next target's answer (or, in `continue` mode on a
 * target that takes an assistant prefill, the rest of the same answer); a caller of protocol 1,
 * or one that turned rescue off, gets the stream ended with an error. Either way one terminal
 * message ends it, and a truncated answer is never reported as complete.
 */
export function createStreamChatHandler(deps: ChatDeps): StreamEndpoint {
  return {
    kind: "stream",
    async handler(body, context, writer): Promise<StreamResult> {
      const prepared = await prepareChat(body, context, deps, true);
      const { request, eventContext } = prepared;
      const rescue = (context.streamProtocol ?? 1) >= STREAM_PROTOCOL && request.stream_rescue !== "off";
      /** The answer as the caller holds it: chunks since the last restart, and its text. */
      const held = { chunks: 0, content: "" };
      /** The failure after output that the next target's answer must be announced against. */
      let interrupted: { from: Target; error: UpstreamError } | undefined;
      let restarts = 0;
      let execution: ExecutionResult<ConsumedStream>;
      try {
        execution = await executeWithFallback(
          {
            targets: prepared.targets,
            chain: prepared.chain,
            deadline: prepared.deadline,
            signal: context.signal,
            // A long answer may stream for long: stalls are policed per piece, the deadline overall.
            streamed: () => true,
          },
          (target, signal, budget) => {
            const continuing =
              interrupted !== undefined &&
              request.stream_rescue === "continue" &&
              target.model.features.assistant_prefill === true &&
              held.content.trim() !== "";
            // A prefill ends without whitespace (providers refuse it); the whitespace the caller
            // already has is dropped from the start of the continuation instead.
            const prefill = continuing ? held.content.trimEnd() : undefined;
            let trimmed = prefill === undefined ? "" : held.content.slice(prefill.length);
            let output = false;
            const forward = (delta: ChatDelta) => {
              if (!output && interrupted) {
                announceRestart(writer, interrupted, target, continuing, held.chunks);
                if (!continuing) Object.assign(held, { chunks: 0, content: "" });
                interrupted = undefined;
                restarts++;
              }
              output = true;
              if (trimmed !== "" && delta.content !== undefined) {
                const content = delta.content.startsWith(trimmed)
                  ? delta.content.slice(trimmed.length)
                  : delta.content;
                trimmed = "";
                delta = { ...delta, content };
              }
              writer.write(toWireDelta(delta));
              held.chunks++;
              held.content += delta.content ?? "";
            };
            const call = {
              upstreamModel: upstreamModelName(target.model),
              modelMaxTokens: target.model.max_tokens,
              request: prefill === undefined ? request : withAssistantPrefill(request, prefill),
              signal,
              trace: context.trace,
            };
            const client = deps.clients.get(target.provider.id)!;
            return streamAttempt(client, call, target, budget, forward).catch((error: unknown) => {
              if (!output || !(error instanceof UpstreamError)) throw error;
              if (!rescue) throw interruptedForGood(error, held.chunks);
              interrupted = { from: target, error };
              throw error;
            });
          },
        );
      } catch (error) {
        await recordChatFailure(deps, prepared, context, error);
        throw error;
      }

      const { value: stream, target, attempts } = execution;
      deps.health.recordAttempts(attempts);
      const { end } = stream;
      const promptTokens = end.usage?.promptTokens ?? 0;
      const completionTokens = end.usage?.completionTokens ?? 0;
      settleCallerTokens(deps, prepared, context, end.usage);
      const result: StreamResult = {
        id: `chatcmpl-${randomUUID()}`,
        model: target.model.model_name,
        provider_id: target.provider.id,
        upstream_id: end.upstreamId,
        finish_reason: end.finishReason,
        raw_finish_reason: end.rawFinishReason,
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: completionTokens,
          total_tokens: promptTokens + completionTokens,
          cost: computeChatCost(
            end.usage ?? { promptTokens, completionTokens },
            target.model.cost,
            end.providerCostUsd,
          ),
        },
        latency_ms: elapsedMs(context),
        time_to_first_chunk_ms:
          stream.firstChunkMs === null ? null : Math.round(stream.firstChunkMs * 1000) / 1000,
        attempts,
        warnings: end.warnings,
        restarts,
      };
      const completion: ChatCompletion = {
        ...result,
        request_id: context.requestId,
        created_at: new Date().toISOString(),
        content: held.content,
      };
      const stored = deps.events.emit(
        SUBJECTS.chatCompletedEvent,
        () => buildChatCompleted(completion, request, eventContext),
        prepared.deadline,
      );
      recordRequestOutcome(context.trace, {
        operation: "chat",
        caller: context.caller,
        model: result.model,
        providerId: result.provider_id,
        costUsd: result.usage.cost.total,
        attempts,
      });
      context.log.debug(
        {
          request_id: context.requestId,
          model: result.model,
          provider_id: result.provider_id,
          attempts: attempts.length,
          chunks: stream.forwarded,
          finish_reason: result.finish_reason,
          total_tokens: result.usage.total_tokens,
          cost_usd: result.usage.cost.total,
          latency_ms: result.latency_ms,
        },
        "chat stream completed",
      );
      await stored;
      return result;
    },
  };
}

/** The restart message: who failed and why, who takes over, what the caller drops. */
function announceRestart(
  writer: StreamWriter,
  interrupted: { from: Target; error: UpstreamError },
  to: Target,
  continuing: boolean,
  heldChunks: number,
): void {
  const ref = (target: Target) => ({ provider_id: target.provider.id, model: target.model.model_name });
  writer.restart({
    mode: continuing ? "continue" : "restart",
    reason: { code: failureTraits(interrupted.error.failure).errorCode, message: interrupted.error.message },
    from: ref(interrupted.from),
    to: ref(to),
    discarded_chunks: continuing ? 0 : heldChunks,
  });
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
  if (delta.toolCalls !== undefined) wire.tool_calls = delta.toolCalls;
  if (delta.functionCall !== undefined) wire.function_call = delta.functionCall;
  return wire;
}
