import {
  CompleteChatSchema,
  LlmProviderError,
  parseRequest,
  REFUSED_OPENAI_CHAT_FIELDS,
} from "@llm-provider/contracts";
import type { CompleteChat } from "@llm-provider/contracts";
import { planTargets, skipTargetWhen } from "../../domain/catalog.js";
import type { FallbackChain, ModelEntry, PlannedTarget, TargetSkip } from "../../domain/catalog.js";
import { findChatMismatch } from "../../domain/chat-requirements.js";
import type { EventContext } from "../../domain/events.js";
import { checkMessagesNonEmpty } from "../../domain/policies.js";
import { estimateChatTokens } from "../../domain/tokens.js";
import type { RequestContext } from "../../ports/request-handler.js";
import type { ResumableStreams } from "../../ports/resumable-streams.js";
import {
  admitRequest,
  configuredModel,
  deadlineOf,
  clientSkipOf,
  refuseViolation,
  requireCallable,
} from "../request-admission.js";
import type { UpstreamRequestDeps } from "../request-admission.js";
import { eventContextOf } from "../request-record.js";

export interface ChatDeps extends UpstreamRequestDeps {
  /** Copy prompt and answer into events (events.include_content). */
  includeContentInEvents: boolean;
  /** Where resumable streams are kept; undefined when `resumable_streams.enabled` is false. */
  resumableStreams: ResumableStreams | undefined;
}

/** A chat request that passed every check and may go upstream. */
export interface PreparedChat {
  request: CompleteChat;
  model: ModelEntry;
  /** Every target of the chain in order, those that cannot take the request marked skipped. */
  targets: PlannedTarget[];
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
  const request = parseRequest(CompleteChatSchema, body, REFUSED_OPENAI_CHAT_FIELDS);
  refuseViolation(checkMessagesNonEmpty(request.messages));
  const catalog = deps.catalog();
  const model = configuredModel(catalog, request.model);
  const provider = catalog.providers.get(model.provider_id)!;
  const mismatch = findChatMismatch({ model, provider }, request, streaming);
  if (mismatch) throw new LlmProviderError(mismatch.kind, mismatch.message, { field: mismatch.field });

  const { targets: planned, chain } = planTargets(
    catalog,
    model.model_name,
    deps.balancer.orderFor(catalog, () =>
      request.tools ? [request.tools, ...request.messages] : request.messages,
    ),
  );
  const targets = requireCallable(
    planned.map((target) => skipTargetWhen(target, chatSkipOf(deps, target, request, streaming))),
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
    metadata: request.metadata,
  });
  const eventContext = eventContextOf(context, deps.includeContentInEvents);
  return { request, model, targets, chain, deadline, eventContext, estimatedTokens, admittedAt };
}

/** Why `target` cannot take this chat: no client, a client that cannot stream, a model that lacks a feature. */
function chatSkipOf(
  deps: ChatDeps,
  target: PlannedTarget,
  request: CompleteChat,
  streaming: boolean,
): TargetSkip | undefined {
  const noClient = clientSkipOf(deps, target);
  if (noClient) return noClient;
  if (streaming && !deps.clients.get(target.provider.id)!.streamChat) {
    return {
      reason: "missing_capability",
      detail: `provider '${target.provider.id}' cannot stream`,
    };
  }
  const mismatch = findChatMismatch(target, request, streaming);
  return mismatch && { reason: "missing_capability", detail: mismatch.message };
}
