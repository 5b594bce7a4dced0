/** Every NATS subject of the llm-provider bounded context. Requests and events never share a prefix. */
export const SUBJECTS = {
  completeChat: "llm-provider.cmd.complete_chat",
  streamChat: "llm-provider.cmd.stream_chat",
  /** Every worker listens (no queue group); the one streaming that request stops. */
  cancelStream: "llm-provider.cmd.cancel_stream",
  /** Replays a `resumable` stream's messages after a seq, then follows it live (any worker answers). */
  resumeStream: "llm-provider.cmd.resume_stream",
  generateEmbedding: "llm-provider.cmd.generate_embedding",
  listModels: "llm-provider.qry.list_models",
  getProviderHealth: "llm-provider.qry.get_provider_health",
  /** The caller's own spend per day or month (when `spend.enabled`). */
  getSpend: "llm-provider.qry.get_spend",
  createJob: "llm-provider.cmd.create_job",
  sealJob: "llm-provider.cmd.seal_job",
  cancelJob: "llm-provider.cmd.cancel_job",
  getJob: "llm-provider.qry.get_job",
  getJobResults: "llm-provider.qry.get_job_results",
  chatCompletedEvent: "llm-provider.chat_completed.v1",
  embeddingGeneratedEvent: "llm-provider.embedding_generated.v1",
  chatFailedEvent: "llm-provider.chat_failed.v1",
  providerHealthChangedEvent: "llm-provider.provider_health_changed.v1",
  jobProgressEvent: "llm-provider.job_progress.v1",
  jobFinishedEvent: "llm-provider.job_finished.v1",
  budgetThresholdReachedEvent: "llm-provider.budget_threshold_reached.v1",
  /** The live configuration's admin requests: only the config-admin NATS identity may send them. */
  adminApplyConfig: "llm-provider.admin.apply_config",
  adminDiffConfig: "llm-provider.admin.diff_config",
  adminSetProviderActive: "llm-provider.admin.set_provider_active",
  adminSetModelAvailable: "llm-provider.admin.set_model_available",
} as const;
export type Subject = (typeof SUBJECTS)[keyof typeof SUBJECTS];

/**
 * The subjects of the event stream, listed one by one: a wildcard such as `llm-provider.>` would
 * also capture the request subjects and swallow every request.
 */
export const EVENT_SUBJECTS = [
  SUBJECTS.chatCompletedEvent,
  SUBJECTS.embeddingGeneratedEvent,
  SUBJECTS.chatFailedEvent,
  SUBJECTS.providerHealthChangedEvent,
  SUBJECTS.jobProgressEvent,
  SUBJECTS.jobFinishedEvent,
  SUBJECTS.budgetThresholdReachedEvent,
] as const;
export type EventSubject = (typeof EVENT_SUBJECTS)[number];

/** The subjects a caller sends to (the request subjects), as opposed to events. */
export const REQUEST_SUBJECTS = [
  SUBJECTS.completeChat,
  SUBJECTS.streamChat,
  SUBJECTS.cancelStream,
  SUBJECTS.resumeStream,
  SUBJECTS.generateEmbedding,
  SUBJECTS.listModels,
  SUBJECTS.getProviderHealth,
  SUBJECTS.createJob,
  SUBJECTS.sealJob,
  SUBJECTS.cancelJob,
  SUBJECTS.getJob,
  SUBJECTS.getJobResults,
  SUBJECTS.getSpend,
] as const;
export type RequestSubject = (typeof REQUEST_SUBJECTS)[number];

/**
 * The admin subjects: not caller subjects. Served under these exact names in every account layout
 * (never under `llm-provider.ctx.<context>.…`, so no caller export reaches them); the server lets
 * only the config-admin user publish to `llm-provider.admin.>`.
 */
export const ADMIN_SUBJECTS = [
  SUBJECTS.adminApplyConfig,
  SUBJECTS.adminDiffConfig,
  SUBJECTS.adminSetProviderActive,
  SUBJECTS.adminSetModelAvailable,
] as const;
export type AdminSubject = (typeof ADMIN_SUBJECTS)[number];
/** Every subject a worker serves: the callers' and the admin's. */
export type ServedSubject = RequestSubject | AdminSubject;

/** The prefix of the admin subjects (`llm-provider.admin.>` in permissions). */
export const ADMIN_SUBJECT_PREFIX = "llm-provider.admin.";

/**
 * Where workers keep the messages of a `resumable` stream (a memory JetStream stream of the service's
 * own account, never readable by callers): `llm-provider.resumable.<caller>.<hash of request id>`.
 * Outside the request and event subjects.
 */
export const RESUMABLE_STREAM_PREFIX = "llm-provider.resumable.";

/**
 * A calling bounded context's name: one NATS subject token (it is the `<context>` of
 * `llm-provider.ctx.<context>.…`), short, lowercase.
 */
export const CALLER_CONTEXT_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;

const SUBJECT_ROOT = "llm-provider.";
const CALLER_ROOT = "llm-provider.ctx.";

/**
 * The subject the service serves for `subject` when callers live in accounts of their own:
 * `llm-provider.cmd.complete_chat` of context `memory` is `llm-provider.ctx.memory.cmd.complete_chat`.
 * The server's per-account export of `llm-provider.ctx.memory.>` (imported by the caller under the
 * canonical subject) is what sets the context token, so a caller cannot choose it. `*` gives the
 * wildcard subject a worker subscribes to.
 */
export function callerSubject(context: string, subject: RequestSubject): string {
  return CALLER_ROOT + context + "." + subject.slice(SUBJECT_ROOT.length);
}

/** The context token of a subject made by `callerSubject`, or undefined for any other subject. */
export function callerContextOf(subject: string): string | undefined {
  if (!subject.startsWith(CALLER_ROOT)) return undefined;
  const end = subject.indexOf(".", CALLER_ROOT.length);
  return end === -1 ? undefined : subject.slice(CALLER_ROOT.length, end);
}

/**
 * What a `Request-Id` may be: 1-128 printable ASCII characters without spaces or quotes (UUIDs,
 * ULIDs, NUIDs, `order-4711`, base64). Anything else is refused, never cut or repaired.
 */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@+=/-]{0,127}$/;
/** `REQUEST_ID_PATTERN` in words, for error messages. */
export const REQUEST_ID_RULE =
  "1-128 characters of letters, digits and ._:@+=/-, starting with a letter or digit";

/** The stream protocol this contract version speaks (see `HEADERS.streamProtocol`). */
export const STREAM_PROTOCOL = 2;

/** Name of the NATS micro service (`$SRV.PING.llm-provider`) and of its queue group. */
export const SERVICE_NAME = "llm-provider";
export const QUEUE_GROUP = "llm-provider";

/** NATS headers the service reads or writes. */
export const HEADERS = {
  /** Caller-chosen request id; echoed on the reply and used to derive event ids. */
  requestId: "Request-Id",
  /**
   * The stream protocol a `stream_chat` caller speaks. 2: it handles `restart` messages, so a
   * failure after the first chunk may be rescued on the fallback. Unset: 1, such a failure ends
   * the stream with an error.
   */
  streamProtocol: "Stream-Protocol",
  traceparent: "traceparent",
  tracestate: "tracestate",
} as const;
