import type { EmbeddingJobItem } from "@llm-provider/contracts";
import { decideOnBatchFailure } from "../../domain/jobs.js";
import type { JobRecord } from "../../domain/jobs.js";
import { encodeFloat32Base64 } from "../../domain/embedding-vector.js";
import type { EmbeddingReply } from "../embeddings/build-embedding-reply.js";
import { errorBodyOf, failed } from "./job-item-outcomes.js";
import type { Computed, Spending, ValidItem } from "./job-item-outcomes.js";
import type { JobBatchDeps } from "./run-job-batch.js";

type Item = ValidItem<EmbeddingJobItem>;

/** Embeds the items as one request; a final failure of several is split to find the item at fault. */
export async function embedJobItems(
  deps: JobBatchDeps,
  job: JobRecord,
  items: Item[],
  spending: Spending,
): Promise<Computed<EmbeddingJobItem>[]> {
  if (items.length === 0) return [];
  let reply: EmbeddingReply;
  try {
    reply = await embed(deps, job, items);
  } catch (error) {
    const body = errorBodyOf(error);
    const deliveries = Math.max(...items.map((item) => item.deliveries));
    const decision = decideOnBatchFailure(
      body,
      items.length,
      { count: deliveries, max: deps.maxDeliveries },
      deps.retryBaseMs,
    );
    if (decision.kind === "retry") return items.map((item) => ({ item, retry: decision.delayMs }));
    if (decision.kind === "fail")
      return items.map((item) => ({ item, result: failed(item.id, decision.error) }));
    const alone: Computed<EmbeddingJobItem>[] = [];
    for (const item of items) alone.push(...(await embedJobItems(deps, job, [item], spending)));
    return alone;
  }
  const call = spending.add({
    prompt_tokens: reply.usage.prompt_tokens,
    completion_tokens: 0,
    cost: reply.usage.cost,
  });
  return items.map((item, index) => {
    const embedding = reply.data[index]!;
    return {
      item,
      call,
      result: {
        item_id: item.id,
        ok: true,
        embedding: reply.encoding === "base64" ? encodeFloat32Base64(embedding.vector) : embedding.vector,
        model: embedding.model,
        provider_id: reply.provider_id,
        cached: embedding.cached,
      },
    };
  });
}

function embed(deps: JobBatchDeps, job: JobRecord, items: Item[]): Promise<EmbeddingReply> {
  const body = {
    model: job.model,
    input: items.map((item) => item.input),
    ...(job.dimensions !== undefined ? { dimensions: job.dimensions } : {}),
    encoding_format: job.encoding_format,
    timeout_ms: deps.batchTimeoutMs,
    ...(job.metadata ? { metadata: job.metadata } : {}),
  };
  return deps.embed(body, deps.contextFor(job.caller, job.job_id));
}
