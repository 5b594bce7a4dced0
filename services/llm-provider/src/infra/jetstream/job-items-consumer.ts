import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "pino";
import type { JobsConfig } from "../../config/schema.js";
import type { ItemOutcome, JobItemsQueue, QueuedItem } from "../../ports/job-store.js";
import { ANONYMOUS_CALLER } from "../nats/caller-identity.js";
import type { CallerIdentity } from "../nats/caller-identity.js";

const ITEMS_TOKEN = ".job_items.";
/** Wait before consuming again after the consumer failed (JetStream away, consumer missing). */
const RESTART_DELAY_MS = 1_000;
/** How long one pull request waits for items (its heartbeats tell a lost pull in half that). */
const PULL_EXPIRES_MS = 5_000;

/** Runs one batch of a job's items; one outcome per item, in order. */
export type RunJobBatch = (caller: string, jobId: string, items: QueuedItem[]) => Promise<ItemOutcome[]>;

/** The caller and job of an item subject; undefined for a subject no served caller can publish on. */
export function jobOfItemSubject(
  subject: string,
  callers: CallerIdentity,
): { caller: string; jobId: string } | undefined {
  const at = subject.lastIndexOf(ITEMS_TOKEN);
  if (at === -1) return undefined;
  const jobId = subject.slice(at + ITEMS_TOKEN.length);
  const caller = callers.callerOf(subject);
  return caller === undefined || jobId === "" ? undefined : { caller, jobId };
}

/** The subject a caller's items of `jobId` arrive on (as the worker's account sees it). */
export function itemSubjectOf(caller: string, jobId: string): string {
  return caller === ANONYMOUS_CALLER
    ? `llm-provider${ITEMS_TOKEN}${jobId}`
    : `llm-provider.ctx.${caller}${ITEMS_TOKEN}${jobId}`;
}

export function createJetStreamJobItems(nc: NatsConnection, config: JobsConfig): JobItemsQueue {
  return {
    async discard(caller, jobId) {
      const jsm = await jetstreamManager(nc, { checkAPI: false });
      const purged = await jsm.streams.purge(config.items_stream, { filter: itemSubjectOf(caller, jobId) });
      return purged.purged;
    },
  };
}

interface Group {
  caller: string;
  jobId: string;
  messages: JsMsg[];
  timer?: NodeJS.Timeout;
}

export interface JobItemsWorker {
  /** Takes no more items, and waits up to `graceMs` for the batches running. */
  stop(graceMs: number): Promise<void>;
}

/**
 * A worker's share of the job items: pulls from the durable consumer every worker shares, groups
 * the items of each job into batches (up to `batch_items`, or what came within `linger_ms`), runs
 * at most `concurrent_batches` at once, and acknowledges each item once its result is stored.
 * It pulls only what it has room for, and keeps every item it holds (waiting in a batch or being
 * computed) from being handed to another worker (`working`); an item never acknowledged (this
 * worker died) goes to another worker after `ack_wait`.
 */
export function startJobItemsWorker(
  nc: NatsConnection,
  config: JobsConfig,
  callers: CallerIdentity,
  runBatch: RunJobBatch,
  logger: Logger,
): JobItemsWorker {
  const maxInHand = config.batch_items * config.concurrent_batches;
  const lingering = new Map<string, Group>();
  const ready: Group[] = [];
  const running = new Set<Promise<void>>();
  const inHand = new Set<JsMsg>();
  let messages: ConsumerMessages | undefined;
  let stopped = false;
  let wake: (() => void) | undefined;
  const keepAlive = setInterval(() => inHand.forEach((message) => message.working()), config.ack_wait_ms / 3);

  /** A batch is complete (full, or its linger is over): it runs as soon as a slot is free. */
  function close(key: string): void {
    const group = lingering.get(key);
    if (!group) return;
    lingering.delete(key);
    clearTimeout(group.timer);
    ready.push(group);
    startReady();
  }

  function startReady(): void {
    while (!stopped && running.size < config.concurrent_batches && ready.length > 0) {
      const batch = run(ready.shift()!).finally(() => {
        running.delete(batch);
        startReady();
        wake?.();
      });
      running.add(batch);
    }
  }

  async function run(group: Group): Promise<void> {
    let outcomes: ItemOutcome[];
    try {
      outcomes = await runBatch(group.caller, group.jobId, group.messages.map(queuedItem));
    } catch (error) {
      logger.warn({ err: error, job_id: group.jobId }, "a batch of job items failed: they come again");
      outcomes = group.messages.map(() => ({ kind: "retry", delayMs: config.retry_base_ms }));
    }
    group.messages.forEach((message, index) => {
      inHand.delete(message);
      const outcome = outcomes[index]!;
      if (outcome.kind === "done") message.ack();
      else message.nak(outcome.delayMs);
    });
  }

  function take(message: JsMsg): void {
    const job = jobOfItemSubject(message.subject, callers);
    if (!job) {
      logger.warn({ subject: message.subject }, "a job item on a subject no caller may use: dropped");
      message.term();
      return;
    }
    inHand.add(message);
    const key = message.subject;
    let group = lingering.get(key);
    if (!group) {
      group = { ...job, messages: [] };
      lingering.set(key, group);
      group.timer = setTimeout(() => close(key), config.linger_ms);
    }
    group.messages.push(message);
    if (group.messages.length >= config.batch_items) close(key);
  }

  /** Until a batch ends (room for more items), or `ms` pass. */
  const roomOrTimeout = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const loop = (async () => {
    const js = jetstream(nc, { checkAPI: false });
    while (!stopped) {
      try {
        const consumer = await js.consumers.get(config.items_stream, config.consumer);
        while (!stopped) {
          const room = maxInHand - inHand.size;
          if (room < Math.min(config.batch_items, maxInHand)) {
            await roomOrTimeout(config.linger_ms);
            continue;
          }
          // Short pulls: after a stream leader changes, the next pull finds the new one soon.
          messages = await consumer.fetch({ max_messages: room, expires: PULL_EXPIRES_MS });
          for await (const message of messages) take(message);
        }
      } catch (error) {
        if (stopped) break;
        logger.warn({ err: error }, "consuming job items failed: starting again");
      }
      if (!stopped) await new Promise((resolve) => setTimeout(resolve, RESTART_DELAY_MS));
    }
  })();

  return {
    async stop(graceMs) {
      stopped = true;
      wake?.();
      await messages?.close().catch(() => undefined);
      // Batches not started go back at once for the other workers; those running may finish.
      for (const group of [...lingering.values(), ...ready.splice(0)]) {
        clearTimeout(group.timer);
        for (const message of group.messages) {
          inHand.delete(message);
          message.nak();
        }
      }
      lingering.clear();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...running]),
        new Promise((resolve) => (timer = setTimeout(resolve, graceMs))),
      ]);
      clearTimeout(timer);
      clearInterval(keepAlive);
      await Promise.race([loop, Promise.resolve()]);
    },
  };
}

function queuedItem(message: JsMsg): QueuedItem {
  let body: unknown;
  try {
    body = message.json();
  } catch {
    body = undefined;
  }
  const msgId = message.headers?.get("Nats-Msg-Id") ?? "";
  const separator = msgId.indexOf(":");
  return {
    body,
    fallbackId: separator === -1 ? undefined : msgId.slice(separator + 1) || undefined,
    deliveries: message.info.deliveryCount,
  };
}
