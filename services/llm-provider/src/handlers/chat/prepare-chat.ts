import { CompleteChatSchema, LlmProviderError, parseRequest } from "@llm-provider/contracts";
import type { CompleteChat } from "@llm-provider/contracts";
import { planTargets } from "../../domain/catalog.js";
import type { FallbackChain, ModelEntry, Target } from "../../domain/catalog.js";
import { findChatMismatch } from "../../domain/chat-requirements.js";
import type { EventContext } from "../../domain/events.js";
import { checkMessagesNonEmpty } from "../../domain/policies.js";
import { estimateChatTokens } from "../../domain/tokens.js";
import type { RequestContext } from "../../ports/request-handler.js";
import {
  admitRequest,
  configuredModel,
  deadlineOf,
  refuseViolation,
  requireServable,
} from "../request-admission.js";
import type { UpstreamRequestDeps } from "../request-admission.js";
import { eventContextOf } from "../request-record.js";

export interface ChatDeps extends UpstreamRequestDeps {
  /** Copy prompt and answer into events (events.include_content). */
  includeContentInEvents: boolean;
}

/** A chat request that passed every check and may go upstream. */
export interface PreparedChat {
  request: CompleteChat;
  model: ModelEntry;
  targets: Target[];
  chain: FallbackChain | undefined;
  deadline: number;
  eventContext: EventContext;
  /** What the caller's budget was charged with, and when (`Date.now()`): settled with the real count. */
  estimatedTokens: number;
  admittedAt: number;
}

/**
 * Everything before the upstream call, shared by `complete_chat` and `stream_chat`: schema,
 * POL-LLM-003, model resolution and feature checks, the targets that can take the request, the
 * deadline, and the Policy Gateway.
 */
export async function prepareChat(
  body: unknown,
  context: RequestContext,
  deps: ChatDeps,
  streaming: boolean,
): Promise<PreparedChat> {
  const request = parseRequest(CompleteChatSchema, body);
  refuseViolation(checkMessagesNonEmpty(request.messages));
  const catalog = deps.catalog();
  const model = configuredModel(catalog, request.model);
  const mismatch = findChatMismatch(model, request, streaming);
  if (mismatch) throw new LlmProviderError(mismatch.kind, mismatch.message, { field: mismatch.field });

  const { targets, chain } = planTargets(catalog, model.model_name);
  const servable = requireServable(
    targets.filter((target) => {
      const client = deps.clients.get(target.provider.id);
      if (!client || (streaming && !client.streamChat)) return false;
      return findChatMismatch(target.model, request, streaming) === undefined;
    }),
    "serve model",
    request.model,
  );

  const deadline = deadlineOf(context, request.timeout_ms, deps.defaultTimeoutMs);
  const estimatedTokens = estimateChatTokens(request, model.max_tokens);
  const admittedAt = await admitRequest(deps, context, {
    deadline,
    operation: "chat",
    model: model.model_name,
    providerId: model.provider_id,
    estimatedTokens,
  });
  const eventContext = eventContextOf(context, deps.includeContentInEvents);
  return { request, model, targets: servable, chain, deadline, eventContext, estimatedTokens, admittedAt };
}
