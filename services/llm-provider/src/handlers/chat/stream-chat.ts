import { LlmProviderError, STREAM_PROTOCOL } from "@llm-provider/contracts";
import type { ChatCompletion, CompleteChat } from "@llm-provider/contracts";
import type { ConsumedStream } from "../../routing/consume-chat-stream.js";
import type { ExecutionResult } from "../../routing/execute-with-fallback.js";
import type {
  RequestContext,
  StreamEndpoint,
  StreamResult,
  StreamWriter,
} from "../../ports/request-handler.js";
import { prepareChat } from "./prepare-chat.js";
import type { ChatDeps } from "./prepare-chat.js";
import { answeredChatFields, recordChatAnswer } from "./record-chat-answer.js";
import { routeChat } from "./route-chat.js";
import { StreamRelay } from "./stream-relay.js";

/**
 * `llm-provider.cmd.stream_chat`: the same checks as `complete_chat`, then the answer is forwarded
 * piece by piece as the provider produces it. Before its first piece a target may be retried or
 * fallen back from as `complete_chat` does. After it, a caller of stream protocol 2 gets the
 * answer rescued (`StreamRelay`); a caller of protocol 1, or one that turned rescue off, gets the
 * stream ended with an error. Either way one terminal message ends it, and a truncated answer is
 * never reported as complete. A `resumable` stream's messages are also kept, from its first one
 * to its terminal one whatever it is, for `resume_stream`.
 */
export function createStreamChatHandler(deps: ChatDeps): StreamEndpoint {
  return {
    kind: "stream",
    async handler(body, context, writer): Promise<StreamResult> {
      if (asksToBeResumable(body)) await keepForResume(deps, context, writer);
      const prepared = await prepareChat(body, context, deps, true);
      const relay = new StreamRelay(
        writer,
        prepared.request,
        context,
        takesRestart(context, prepared.request),
      );
      // A long answer may stream for long: stalls are policed per piece, the deadline overall.
      const streamed = () => true;
      const execution = await routeChat(deps, prepared, context, streamed, (target, signal, budget) =>
        relay.attempt(deps.clients.get(target.provider.id)!, target, signal, budget),
      );
      const result = toStreamResult(execution, relay, prepared.request, context);
      const completion: ChatCompletion = {
        ...result,
        request_id: context.requestId,
        created_at: new Date().toISOString(),
        content: relay.content,
      };
      await recordChatAnswer(
        deps,
        prepared,
        context,
        { completion, end: execution.value.end },
        { message: "chat stream completed", fields: { chunks: execution.value.forwarded } },
      );
      return result;
    },
  };
}

/**
 * Read before the body is checked, so that even a refusal is kept and a resume learns it: whatever
 * else the body holds, a stream that asked to be resumable is kept to its end.
 */
function asksToBeResumable(body: unknown): boolean {
  return typeof body === "object" && body !== null && (body as { resumable?: unknown }).resumable === true;
}

async function keepForResume(deps: ChatDeps, context: RequestContext, writer: StreamWriter): Promise<void> {
  if (!deps.resumableStreams)
    throw new LlmProviderError("unsupported", "resumable streams are turned off on this service", {
      field: "resumable",
    });
  writer.keep(await deps.resumableStreams.journal(context.caller, context.requestId));
}

/** Whether the caller takes `restart` messages: stream protocol 2 or later, rescue not turned off. */
function takesRestart(context: RequestContext, request: CompleteChat): boolean {
  return (context.streamProtocol ?? 1) >= STREAM_PROTOCOL && request.stream_rescue !== "off";
}

/** The terminal message's fields for the stream that finished. */
function toStreamResult(
  execution: ExecutionResult<ConsumedStream>,
  relay: StreamRelay,
  request: CompleteChat,
  context: RequestContext,
): StreamResult {
  const stream = execution.value;
  return {
    ...answeredChatFields(stream.end, execution, request, context),
    time_to_first_chunk_ms:
      stream.firstChunkMs === null ? null : Math.round(stream.firstChunkMs * 1000) / 1000,
    restarts: relay.restarts,
  };
}
