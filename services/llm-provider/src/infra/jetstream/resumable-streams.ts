import {
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import type { ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { nanos, nuid } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import { LlmProviderError, RESUMABLE_STREAM_PREFIX, StreamMessageSchema } from "@llm-provider/contracts";
import type { StreamMessage } from "@llm-provider/contracts";
import type { Logger } from "pino";
import { z } from "zod";
import type { ResumableStreamsConfig } from "../../config/schema.js";
import {
  BrokenStreamError,
  MessageBatcher,
  ResumeCursor,
  resumableSubject,
} from "../../domain/resumable-stream.js";
import type { SealedBatch } from "../../domain/resumable-stream.js";
import type { ResumableStreams, StreamJournal } from "../../ports/resumable-streams.js";
import { withinMs } from "../../shared/within-ms.js";
import type { EnsureOutcome } from "../kv/ensure-kv-bucket.js";
import { ensureStream } from "./ensure-stream.js";

/** Bound of one JetStream write or read round trip (a memory stream answers in milliseconds). */
const OPERATION_TIMEOUT_MS = 5_000;
/** Tries of one batch's write (the same `Nats-Msg-Id`, so a write that did land is not kept twice). */
const WRITE_ATTEMPTS = 3;
/** Re-written batches are dropped within it; a batch's retries are seconds apart at most. */
const DUPLICATE_WINDOW_MS = 120_000;

const KeptBatchSchema = z.array(StreamMessageSchema);

/** The stream of kept messages: memory storage, every message gone after `max_age_ms`. Idempotent. */
export async function ensureResumableStream(
  nc: NatsConnection,
  config: ResumableStreamsConfig,
  apply: boolean,
): Promise<EnsureOutcome> {
  return await ensureStream(
    await jetstreamManager(nc),
    config.stream,
    {
      subjects: [`${RESUMABLE_STREAM_PREFIX}>`],
      num_replicas: config.replicas,
      max_age: nanos(config.max_age_ms),
      duplicate_window: nanos(Math.min(DUPLICATE_WINDOW_MS, config.max_age_ms)),
      storage: StorageType.Memory,
      retention: RetentionPolicy.Limits,
    },
    apply,
  );
}

/**
 * Resumable streams on JetStream: each stream's messages are batched (what is produced within
 * `flush_ms`, at most `max_batch_bytes`, the terminal message at once) into messages on
 * `llm-provider.resumable.<caller>.<hash of request id>`, written one batch at a time per stream
 * so that they stay in order. A resume reads that subject with an ordered consumer.
 */
export function createJetStreamResumableStreams(
  nc: NatsConnection,
  config: ResumableStreamsConfig,
  logger: Logger,
): ResumableStreams {
  const js: JetStreamClient = jetstream(nc, { timeout: OPERATION_TIMEOUT_MS, checkAPI: false });
  const jsm: Promise<JetStreamManager> = jetstreamManager(nc, {
    timeout: OPERATION_TIMEOUT_MS,
    checkAPI: false,
  });
  jsm.catch(() => undefined);
  /** Journals with writes under way, for the flush at shutdown. */
  const writing = new Set<JetStreamJournal>();

  return {
    async journal(caller, requestId) {
      const journal = new JetStreamJournal(js, config, resumableSubject(caller, requestId), {
        logger: logger.child({ caller, request_id: requestId }),
        writing,
      });
      await journal.open();
      return journal;
    },
    follow(caller, requestId, afterSeq, signal) {
      return followKept(js, jsm, config, resumableSubject(caller, requestId), afterSeq, signal);
    },
    async flush(timeoutMs) {
      await withinMs(Promise.all([...writing].map((journal) => journal.settled())), timeoutMs);
      return writing.size;
    },
  };
}

interface JournalDeps {
  logger: Logger;
  writing: Set<JetStreamJournal>;
}

/** One stream's journal: batches written in order, one write under way at a time. */
class JetStreamJournal implements StreamJournal {
  readonly #js: JetStreamClient;
  readonly #config: ResumableStreamsConfig;
  readonly #subject: string;
  readonly #deps: JournalDeps;
  readonly #batcher: MessageBatcher;
  /** Makes this stream's `Nats-Msg-Id`s its own, should its request id be used again later. */
  readonly #instance = nuid.next();
  #timer: NodeJS.Timeout | undefined;
  #writes: Promise<void> = Promise.resolve();
  #pending = 0;
  /** A write failed for good: later batches would leave a gap, so none is written. */
  #broken = false;

  constructor(js: JetStreamClient, config: ResumableStreamsConfig, subject: string, deps: JournalDeps) {
    this.#js = js;
    this.#config = config;
    this.#subject = subject;
    this.#deps = deps;
    this.#batcher = new MessageBatcher(config.max_batch_bytes);
  }

  /**
   * Marks the stream as begun with an empty batch, so that a resume before its first chunk finds
   * it. Only on a subject without messages: a request id whose stream is still kept is refused,
   * as two streams under one id could not be told apart. A JetStream that does not answer leaves
   * the stream live and not kept.
   */
  async open(): Promise<void> {
    try {
      await this.#js.publish(this.#subject, "[]", {
        msgID: `${this.#instance}:open`,
        expect: { lastSubjectSequence: 0 },
      });
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamWrongLastSequence) {
        throw new LlmProviderError(
          "invalid_request",
          "a resumable stream of this request id is still kept: use a new request id",
          { field: "Request-Id" },
        );
      }
      this.#broken = true;
      this.#deps.logger.warn({ err: String(error) }, "resumable stream not kept: JetStream did not take it");
    }
  }

  append(message: StreamMessage): void {
    if (this.#broken) return;
    if (this.#batcher.add(message)) {
      this.#flush();
      return;
    }
    this.#timer ??= setTimeout(() => this.#flush(), this.#config.flush_ms);
  }

  /** Resolves when every batch sealed so far was written or given up. */
  settled(): Promise<void> {
    return this.#writes;
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#batcher.seal();
    if (!batch) return;
    this.#pending++;
    this.#deps.writing.add(this);
    this.#writes = this.#writes.then(() => this.#write(batch));
  }

  async #write(batch: SealedBatch): Promise<void> {
    try {
      if (this.#broken) return;
      for (let attempt = 1; attempt <= WRITE_ATTEMPTS; attempt++) {
        try {
          await this.#js.publish(this.#subject, batch.json, { msgID: `${this.#instance}:${batch.firstSeq}` });
          return;
        } catch (error) {
          if (attempt === WRITE_ATTEMPTS) {
            this.#broken = true;
            this.#deps.logger.warn(
              { err: String(error), first_seq: batch.firstSeq },
              "resumable stream no longer kept: a batch was not written",
            );
          }
        }
      }
    } finally {
      if (--this.#pending === 0) this.#deps.writing.delete(this);
    }
  }
}

/** The kept messages after `afterSeq`, then live ones, up to the terminal one. */
async function* followKept(
  js: JetStreamClient,
  jsm: Promise<JetStreamManager>,
  config: ResumableStreamsConfig,
  subject: string,
  afterSeq: number,
  signal: AbortSignal,
): AsyncGenerator<StreamMessage> {
  const messages = await openKept(js, jsm, config, subject).catch((error: unknown) => {
    throw asStateError(error);
  });
  let stopped: LlmProviderError | undefined;
  const stop = (why: LlmProviderError) => {
    stopped ??= why;
    void messages.stop();
  };
  let idle: NodeJS.Timeout | undefined;
  const rearm = () => {
    clearTimeout(idle);
    idle = setTimeout(
      () =>
        stop(
          new LlmProviderError(
            "deadline_exceeded",
            `the stream got no new message for ${config.idle_timeout_ms} ms: its worker may have stopped`,
          ),
        ),
      config.idle_timeout_ms,
    );
  };
  const onAbort = () => stop(new LlmProviderError("cancelled", "the caller cancelled the stream"));
  signal.addEventListener("abort", onAbort, { once: true });
  if (signal.aborted) onAbort();
  rearm();
  const cursor = new ResumeCursor(afterSeq);
  try {
    for await (const msg of messages) {
      rearm();
      for (const message of cursor.take(decodeBatch(msg))) yield message;
      if (cursor.ended) return;
    }
    throw stopped ?? new LlmProviderError("state_unavailable", "reading the kept stream stopped");
  } catch (error) {
    if (error instanceof BrokenStreamError) throw new LlmProviderError("internal", error.message);
    throw asStateError(error);
  } finally {
    clearTimeout(idle);
    signal.removeEventListener("abort", onAbort);
    await messages.close().catch(() => undefined);
  }
}

/** The caller's kept messages from the first, through an ordered consumer; `not_found` when none is kept. */
async function openKept(
  js: JetStreamClient,
  jsm: Promise<JetStreamManager>,
  config: ResumableStreamsConfig,
  subject: string,
): Promise<ConsumerMessages> {
  const last = await (await jsm).streams.getMessage(config.stream, { last_by_subj: subject });
  if (last === null) {
    throw new LlmProviderError(
      "not_found",
      "no resumable stream of this request id is kept for this caller",
      {
        field: "request_id",
      },
    );
  }
  const consumer = await js.consumers.get(config.stream, {
    filter_subjects: subject,
    deliver_policy: DeliverPolicy.All,
  });
  return await consumer.consume({ max_messages: 64 });
}

/** A JetStream that did not answer (a leader election, a lost node): retryable, the resume may be sent again. */
function asStateError(error: unknown): LlmProviderError {
  if (error instanceof LlmProviderError) return error;
  return new LlmProviderError("state_unavailable", `the kept stream could not be read: ${String(error)}`);
}

function decodeBatch(msg: JsMsg): StreamMessage[] {
  const parsed = KeptBatchSchema.safeParse(msg.json());
  if (!parsed.success)
    throw new LlmProviderError("internal", "a kept stream batch does not match the contract");
  return parsed.data;
}
