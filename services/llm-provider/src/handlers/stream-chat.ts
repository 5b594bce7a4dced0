import { randomUUID } from "node:crypto";
import { SUBJECTS } from "@llm-provider/contracts";
import type { ChatCompletion, StreamChunk } from "@llm-provider/contracts";
import { upstreamModelName } from "../domain/catalog.js";
import { computeChatCost } from "../domain/cost.js";
import { buildChatCompleted } from "../domain/events.js";
import type { ChatDelta } from "../providers/port.js";
import { consumeChatStream } from "../routing/consume-chat-stream.js";
import type { ConsumedStream } from "../routing/consume-chat-stream.js";
import { executeWithFallback } from "../routing/execute-with-fallback.js";
import type { ExecutionResult } from "../routing/execute-with-fallback.js";
import { estimateChatTokens } from "../routing/rate-limiter.js";
import { recordRequestOutcome } from "../telemetry/record-request-outcome.js";
import type { StreamEndpoint, StreamResult } from "./context.js";
import { elapsedMs, prepareChat, recordChatFailure } from "./prepare-chat.js";
import type { ChatDeps } from "./prepare-chat.js";

/**
 * `llm-provider.cmd.stream_chat`: the same checks as `complete_chat`, then the answer is forwarded
 * piece by piece as the provider produces it. A target may be retried or fallen back from only
 * until its first piece went out; the stream ends with one terminal message either way.
 */
export function createStreamChatHandler(deps: ChatDeps): StreamEndpoint {
  return {
    kind: "stream",
    async handler(body, context, writer): Promise<StreamResult> {
      const startedAt = Date.now(); // before the caller's budget is taken (in prepareChat)
      const prepared = await prepareChat(body, context, deps, true);
      const { request, eventContext } = prepared;
      let execution: ExecutionResult<ConsumedStream>;
      try {
        execution = await executeWithFallback(
          {
            targets: prepared.targets,
            chain: prepared.chain,
            deadline: prepared.deadline,
            signal: context.signal,
            // A long answer may stream for long: stalls are policed per piece, the deadline overall.
            attemptTimeoutMs: () => Number.MAX_SAFE_INTEGER,
          },
          (target, signal) => {
            const stall = new AbortController();
            const parts = deps.clients.get(target.provider.id)!.streamChat!({
              upstreamModel: upstreamModelName(target.model),
              modelMaxTokens: target.model.max_tokens,
              request,
              signal: AbortSignal.any([signal, stall.signal]),
              trace: context.trace,
            });
            const limits = {
              firstChunkMs: target.provider.config.stream_first_chunk_timeout_ms,
              idleMs: target.provider.config.stream_idle_timeout_ms,
            };
            return consumeChatStream(
              parts,
              (delta) => writer.write(toWireDelta(delta)),
              limits,
              () => stall.abort(),
            );
          },
        );
      } catch (error) {
        recordChatFailure(deps, prepared, context, error);
        throw error;
      }

      const { value: stream, target, attempts } = execution;
      deps.health.recordAttempts(attempts);
      const { end } = stream;
      const promptTokens = end.usage?.promptTokens ?? 0;
      const completionTokens = end.usage?.completionTokens ?? 0;
      // A failed stream, or one that ended without a count, keeps the caller's estimate (as providers do).
      if (end.usage) {
        void deps.callerLimits.settle(context.caller, {
          estimatedTokens: estimateChatTokens(request, prepared.model.max_tokens),
          actualTokens: promptTokens + completionTokens,
          startedAt,
        });
      }
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
      };
      const completion: ChatCompletion = {
        ...result,
        request_id: context.requestId,
        created_at: new Date().toISOString(),
        content: stream.content,
      };
      deps.events.emit(SUBJECTS.chatCompletedEvent, () =>
        buildChatCompleted(completion, request, eventContext),
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
      return result;
    },
  };
}

function toWireDelta(delta: ChatDelta): StreamChunk["delta"] {
  const wire: StreamChunk["delta"] = {};
  if (delta.content !== undefined) wire.content = delta.content;
  if (delta.toolCalls !== undefined) wire.tool_calls = delta.toolCalls;
  if (delta.functionCall !== undefined) wire.function_call = delta.functionCall;
  return wire;
}
