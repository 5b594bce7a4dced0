import { LlmProviderError } from "@llm-provider/contracts";
import type { ChatCompletion, ChatJobItem } from "@llm-provider/contracts";
import { decideOnBatchFailure } from "../../domain/jobs.js";
import type { JobRecord } from "../../domain/jobs.js";
import { errorBodyOf, failed } from "./job-item-outcomes.js";
import type { Computed, Spending, ValidItem } from "./job-item-outcomes.js";
import type { JobBatchDeps } from "./run-job-batch.js";

type Item = ValidItem<ChatJobItem>;

/**
 * Answers each item's chat request as a complete_chat request of the job's caller to the job's
 * model, `chat_concurrency` at a time. A chat request has no batch form: each item is its own call,
 * retried or failed on its own.
 */
export async function answerChatItems(
  deps: JobBatchDeps,
  job: JobRecord,
  items: Item[],
  spending: Spending,
): Promise<Computed<ChatJobItem>[]> {
  const computed: Computed<ChatJobItem>[] = [];
  let next = 0;
  const lanes = Array.from({ length: Math.min(deps.chatConcurrency, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      computed.push(await answer(deps, job, item, spending));
    }
  });
  await Promise.all(lanes);
  return computed;
}

async function answer(
  deps: JobBatchDeps,
  job: JobRecord,
  item: Item,
  spending: Spending,
): Promise<Computed<ChatJobItem>> {
  let completion: ChatCompletion;
  try {
    completion = await deps.chat(
      requestOf(job, item, deps.batchTimeoutMs),
      // The item names the request: a redelivered item's chat_completed event has the same id.
      deps.contextFor(job.caller, job.job_id, `job-${job.job_id}-${item.id}`),
    );
  } catch (error) {
    const decision = decideOnBatchFailure(
      errorBodyOf(error),
      1,
      { count: item.deliveries, max: deps.maxDeliveries },
      deps.retryBaseMs,
    );
    if (decision.kind === "retry") return { item, retry: decision.delayMs };
    return { item, result: failed(item.id, decision.kind === "fail" ? decision.error : errorBodyOf(error)) };
  }
  const { usage } = completion;
  const call = spending.add({
    prompt_tokens: usage.prompt_tokens,
    completion_tokens: usage.completion_tokens,
    cost: usage.cost,
  });
  return { item, call, result: { item_id: item.id, ok: true, completion } };
}

/** The item's request to the job's model, within the batch deadline, tagged with the job's metadata. */
function requestOf(job: JobRecord, item: Item, timeoutMs: number): Record<string, unknown> {
  const { request } = item;
  if (request["model"] !== undefined && request["model"] !== job.model)
    throw new LlmProviderError(
      "invalid_request",
      `an item of a chat job is answered by the job's model '${job.model}': leave out model`,
      { field: "request.model" },
    );
  const own = request["metadata"];
  // A malformed metadata is left to the request's own check, which names it.
  if (own !== undefined && (typeof own !== "object" || own === null)) return { ...request, model: job.model };
  const metadata = { ...job.metadata, ...own };
  return {
    ...request,
    model: job.model,
    timeout_ms: request["timeout_ms"] ?? timeoutMs,
    ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
  };
}
