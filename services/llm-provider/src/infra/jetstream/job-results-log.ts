import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { JetStreamClient, JetStreamManager, MsgRequest } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import type { JobItemResult } from "@llm-provider/contracts";
import type { JobResultsLog } from "../../ports/job-store.js";
import { encodeJobResult } from "./encode-job-result.js";
import { JOB_RESULTS_PREFIX } from "./job-streams.js";

/** Bytes of a results page kept free of the reply limit for the page's own fields and headers. */
const PAGE_OVERHEAD_BYTES = 4_096;
/** How long a page's reader waits for messages JetStream said are there. */
const PAGE_FETCH_MS = 5_000;

/**
 * The results of jobs in a JetStream stream: `llm-provider.job_results.<job key>.ok|error`, each
 * published with `Nats-Msg-Id: <job key>:<item id>`, so that an item computed twice (delivered
 * again after its worker died) keeps one result. Counts come from the stream's per-subject
 * message counts; pages from a short-lived consumer filtered on the job.
 */
export function createJetStreamJobResults(
  nc: NatsConnection,
  options: { stream: string; timeoutMs: number; maxPageBytes: () => number },
): JobResultsLog {
  const js: JetStreamClient = jetstream(nc, { timeout: options.timeoutMs, checkAPI: false });
  const jsm: Promise<JetStreamManager> = jetstreamManager(nc, {
    timeout: options.timeoutMs,
    checkAPI: false,
  });
  jsm.catch(() => undefined);
  const subjectOf = (jobKey: string, ok: boolean) => `${JOB_RESULTS_PREFIX}${jobKey}.${ok ? "ok" : "error"}`;

  return {
    async append(jobKey, results) {
      const acks = await Promise.all(
        results.map((result) =>
          js.publish(subjectOf(jobKey, result.ok), encodeJobResult(result), {
            msgID: `${jobKey}:${result.item_id}`,
          }),
        ),
      );
      return acks.map((ack) => !ack.duplicate);
    },
    async counts(jobKey) {
      const info = await (
        await jsm
      ).streams.info(options.stream, {
        subjects_filter: `${JOB_RESULTS_PREFIX}${jobKey}.*`,
      });
      const subjects = info.state.subjects ?? {};
      return {
        succeeded: subjects[subjectOf(jobKey, true)] ?? 0,
        failed: subjects[subjectOf(jobKey, false)] ?? 0,
      };
    },
    async page(jobKey, afterSeq, max) {
      const manager = await jsm;
      const filter = `${JOB_RESULTS_PREFIX}${jobKey}.*`;
      // "Nothing after after_seq" (every poll once the results are read) comes from the stream
      // leader, without a consumer: nats-server < 2.12 may place an ephemeral consumer on a lost
      // node (nats-io/nats-server#7165). The server takes next_by_subj; the client's type omits it.
      const firstAfter = (seq: number) =>
        manager.streams.getMessage(options.stream, {
          next_by_subj: filter,
          seq: seq + 1,
        } as unknown as MsgRequest);
      if ((await firstAfter(afterSeq)) === null) return { results: [], more: false };
      const consumer = await manager.consumers.add(options.stream, {
        filter_subject: filter,
        ack_policy: AckPolicy.None,
        ...(afterSeq > 0
          ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: afterSeq + 1 }
          : { deliver_policy: DeliverPolicy.All }),
        inactive_threshold: nanos(30_000),
        mem_storage: true,
      });
      try {
        // There is at least one: a new consumer's count may not say so yet on a loaded server.
        const wanted = Math.min(max, Math.max(1, consumer.num_pending));
        const budget = options.maxPageBytes() - PAGE_OVERHEAD_BYTES;
        const results: JobItemResult[] = [];
        let bytes = 0;
        const messages = await (
          await js.consumers.get(options.stream, consumer.name)
        ).fetch({
          max_messages: wanted,
          expires: PAGE_FETCH_MS,
        });
        for await (const message of messages) {
          bytes += message.data.length + 16;
          if (results.length > 0 && bytes > budget) break;
          results.push({ ...message.json<Omit<JobItemResult, "seq">>(), seq: message.seq } as JobItemResult);
          if (results.length === wanted) break;
        }
        // Cut by `max` or by the reply's size alike: what is stored after the page is still there.
        const last = results.at(-1);
        return { results, more: last === undefined || (await firstAfter(last.seq)) !== null };
      } finally {
        manager.consumers.delete(options.stream, consumer.name).catch(() => undefined);
      }
    },
  };
}
