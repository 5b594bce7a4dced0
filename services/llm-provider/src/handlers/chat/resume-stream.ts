import { LlmProviderError, parseRequest, ResumeStreamSchema } from "@llm-provider/contracts";
import type { StreamEndpoint, StreamResult } from "../../ports/request-handler.js";
import type { ResumableStreams } from "../../ports/resumable-streams.js";

/**
 * `llm-provider.cmd.resume_stream`: a caller's resumable stream continued after the last seq it
 * received — the kept messages, then the live ones as the worker that answers the stream writes
 * them — with the stream's own request id and seq numbers, so that the caller simply reads on.
 * Only the caller's own streams: the kept messages are looked up under the caller's name.
 */
export function createResumeStreamHandler(streams: ResumableStreams | undefined): StreamEndpoint {
  return {
    kind: "stream",
    continues(body) {
      const resume = ResumeStreamSchema.safeParse(body);
      return resume.success
        ? { requestId: resume.data.request_id, afterSeq: resume.data.after_seq }
        : undefined;
    },
    async handler(body, context, writer): Promise<StreamResult> {
      const resume = parseRequest(ResumeStreamSchema, body);
      if (!streams)
        throw new LlmProviderError("unsupported", "resumable streams are turned off on this service");
      const kept = streams.follow(context.caller, resume.request_id, resume.after_seq, context.signal);
      for await (const message of kept) {
        switch (message.type) {
          case "chunk":
            writer.write(message.delta);
            break;
          case "restart": {
            const { type: _type, seq: _seq, request_id: _requestId, ...restart } = message;
            writer.restart(restart);
            break;
          }
          case "done": {
            const { type: _type, seq: _seq, request_id: _requestId, ...done } = message;
            return done;
          }
          case "error":
            // The stream's own failure, as it was sent: the same code, message and attempts.
            throw LlmProviderError.fromBody(message.error);
        }
      }
      throw new LlmProviderError("internal", "the kept stream ended without a terminal message");
    },
  };
}
