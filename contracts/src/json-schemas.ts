import { z } from "zod";
import {
  ApplyConfigSchema,
  ConfigAdminReplySchema,
  DiffConfigSchema,
  SetModelAvailableSchema,
  SetProviderActiveSchema,
} from "./admin.js";
import { ChatCompletionSchema, CompleteChatSchema } from "./chat.js";
import { EmbeddingResultSchema, GenerateEmbeddingSchema } from "./embedding.js";
import { ErrorEnvelopeSchema } from "./errors.js";
import {
  ChatCompletedSchema,
  ChatFailedSchema,
  EmbeddingGeneratedSchema,
  JobFinishedSchema,
  JobProgressSchema,
  ProviderHealthChangedSchema,
  BudgetThresholdReachedSchema,
} from "./events.js";
import {
  CreateJobSchema,
  GetJobResultsSchema,
  JobItemResultSchema,
  JobItemSchema,
  JobRefSchema,
  JobResultsPageSchema,
  JobStatusSchema,
  SealJobSchema,
} from "./jobs.js";
import { GetProviderHealthSchema, ProviderHealthReplySchema } from "./health.js";
import { ListAvailableModelsSchema, ModelListSchema } from "./models.js";
import { GetSpendSchema, SpendReportSchema } from "./spend.js";
import { PolicyDecisionSchema, PolicyEvaluationRequestSchema } from "./policy-gateway.js";
import { CancelStreamSchema, ResumeStreamSchema, StreamMessageSchema } from "./stream.js";

/** Base of every generated schema's `$id`. */
export const JSON_SCHEMA_ID_BASE = "https://llm-provider.dev/schemas/";

/**
 * What a message is on the wire. It decides which side of a zod schema is published:
 * a request is what callers *send* (zod input: fields with defaults are optional), a reply,
 * event or error is what the service *emits* (zod output: defaults are filled in).
 */
export type WireMessageKind =
  | "request"
  | "reply"
  | "event"
  | "error"
  /** Sent by the service to another bounded context (the Policy Gateway). */
  | "outbound_request"
  /** Received by the service from another bounded context. */
  | "outbound_reply";

export interface JsonSchemaSource {
  /** File name under `contracts/schemas/`, referenced from `asyncapi.yaml`. */
  readonly file: string;
  readonly title: string;
  readonly kind: WireMessageKind;
  readonly schema: z.ZodType;
}

/** Every wire message of the llm-provider contract, in the order the files are written. */
export const JSON_SCHEMA_SOURCES: readonly JsonSchemaSource[] = [
  { file: "complete-chat.json", title: "CompleteChat", kind: "request", schema: CompleteChatSchema },
  { file: "chat-completion.json", title: "ChatCompletion", kind: "reply", schema: ChatCompletionSchema },
  {
    file: "generate-embedding.json",
    title: "GenerateEmbedding",
    kind: "request",
    schema: GenerateEmbeddingSchema,
  },
  { file: "embedding-result.json", title: "EmbeddingResult", kind: "reply", schema: EmbeddingResultSchema },
  {
    file: "list-available-models.json",
    title: "ListAvailableModels",
    kind: "request",
    schema: ListAvailableModelsSchema,
  },
  { file: "model-list.json", title: "ModelList", kind: "reply", schema: ModelListSchema },
  {
    file: "get-provider-health.json",
    title: "GetProviderHealth",
    kind: "request",
    schema: GetProviderHealthSchema,
  },
  {
    file: "provider-health-reply.json",
    title: "ProviderHealthReply",
    kind: "reply",
    schema: ProviderHealthReplySchema,
  },
  { file: "get-spend.json", title: "GetSpend", kind: "request", schema: GetSpendSchema },
  { file: "spend-report.json", title: "SpendReport", kind: "reply", schema: SpendReportSchema },
  { file: "chat-completed.json", title: "ChatCompleted", kind: "event", schema: ChatCompletedSchema },
  { file: "chat-failed.json", title: "ChatFailed", kind: "event", schema: ChatFailedSchema },
  {
    file: "budget-threshold-reached.json",
    title: "BudgetThresholdReached",
    kind: "event",
    schema: BudgetThresholdReachedSchema,
  },
  {
    file: "provider-health-changed.json",
    title: "ProviderHealthChanged",
    kind: "event",
    schema: ProviderHealthChangedSchema,
  },
  {
    file: "embedding-generated.json",
    title: "EmbeddingGenerated",
    kind: "event",
    schema: EmbeddingGeneratedSchema,
  },
  { file: "stream-message.json", title: "StreamMessage", kind: "reply", schema: StreamMessageSchema },
  { file: "cancel-stream.json", title: "CancelStream", kind: "request", schema: CancelStreamSchema },
  { file: "resume-stream.json", title: "ResumeStream", kind: "request", schema: ResumeStreamSchema },
  { file: "create-job.json", title: "CreateJob", kind: "request", schema: CreateJobSchema },
  { file: "job-item.json", title: "JobItem", kind: "request", schema: JobItemSchema },
  { file: "seal-job.json", title: "SealJob", kind: "request", schema: SealJobSchema },
  { file: "job-ref.json", title: "JobRef", kind: "request", schema: JobRefSchema },
  { file: "job-status.json", title: "JobStatus", kind: "reply", schema: JobStatusSchema },
  { file: "get-job-results.json", title: "GetJobResults", kind: "request", schema: GetJobResultsSchema },
  { file: "job-results-page.json", title: "JobResultsPage", kind: "reply", schema: JobResultsPageSchema },
  { file: "job-item-result.json", title: "JobItemResult", kind: "reply", schema: JobItemResultSchema },
  { file: "job-progress.json", title: "JobProgress", kind: "event", schema: JobProgressSchema },
  { file: "job-finished.json", title: "JobFinished", kind: "event", schema: JobFinishedSchema },
  { file: "error-envelope.json", title: "ErrorEnvelope", kind: "error", schema: ErrorEnvelopeSchema },
  { file: "apply-config.json", title: "ApplyConfig", kind: "request", schema: ApplyConfigSchema },
  { file: "diff-config.json", title: "DiffConfig", kind: "request", schema: DiffConfigSchema },
  {
    file: "set-provider-active.json",
    title: "SetProviderActive",
    kind: "request",
    schema: SetProviderActiveSchema,
  },
  {
    file: "set-model-available.json",
    title: "SetModelAvailable",
    kind: "request",
    schema: SetModelAvailableSchema,
  },
  {
    file: "config-admin-reply.json",
    title: "ConfigAdminReply",
    kind: "reply",
    schema: ConfigAdminReplySchema,
  },
  {
    file: "policy-evaluation-request.json",
    title: "PolicyEvaluationRequest",
    kind: "outbound_request",
    schema: PolicyEvaluationRequestSchema,
  },
  {
    file: "policy-decision.json",
    title: "PolicyDecision",
    kind: "outbound_reply",
    schema: PolicyDecisionSchema,
  },
];

/** `input` for what the service receives, `output` for everything it emits. */
export function jsonSchemaIo(kind: WireMessageKind): "input" | "output" {
  return kind === "request" || kind === "outbound_reply" ? "input" : "output";
}

/**
 * What the service emits is published open (no `additionalProperties: false`): a consumer that
 * validates against today's file must keep accepting messages that gain a field tomorrow.
 */
function openObjects(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(openObjects);
  if (!isPlainObject(node)) return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "additionalProperties" && value === false) continue;
    out[key] = DATA_KEYWORDS.has(key) ? value : openObjects(value);
  }
  return out;
}

/**
 * Keywords that come first, in this order; every other keyword follows alphabetically. The order
 * is ours, not zod's, so that a zod upgrade that emits keywords in another order changes no file.
 */
const KEYWORD_ORDER = [
  "$schema",
  "$id",
  "$ref",
  "title",
  "description",
  "type",
  "const",
  "enum",
  "default",
  "format",
  "pattern",
  "minLength",
  "maxLength",
  "minimum",
  "exclusiveMinimum",
  "maximum",
  "exclusiveMaximum",
  "minItems",
  "maxItems",
  "items",
  "prefixItems",
  "anyOf",
  "oneOf",
  "allOf",
  "not",
  "properties",
  "required",
  "propertyNames",
  "additionalProperties",
];
const KEYWORD_RANK = new Map(KEYWORD_ORDER.map((keyword, index) => [keyword, index]));

/** Keywords whose value maps user-chosen names to schemas: their keys keep declaration order. */
const NAME_MAPS = new Set(["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"]);
/** Keywords whose value is data, not schema: left exactly as zod produced it. */
const DATA_KEYWORDS = new Set(["const", "enum", "default", "examples", "required"]);

function compareKeywords(a: string, b: string): number {
  const rankA = KEYWORD_RANK.get(a) ?? KEYWORD_ORDER.length;
  const rankB = KEYWORD_RANK.get(b) ?? KEYWORD_ORDER.length;
  if (rankA !== rankB) return rankA - rankB;
  return a < b ? -1 : a > b ? 1 : 0;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Rebuilds a JSON Schema (sub)document with keywords in canonical order, recursively. */
function canonicalSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(canonicalSchema);
  if (!isPlainObject(node)) return node;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(node).sort(compareKeywords)) {
    const value = node[key];
    if (DATA_KEYWORDS.has(key)) out[key] = value;
    else if (NAME_MAPS.has(key) && isPlainObject(value)) {
      const names: Record<string, unknown> = {};
      for (const [name, schema] of Object.entries(value)) names[name] = canonicalSchema(schema);
      out[key] = names;
    } else out[key] = canonicalSchema(value);
  }
  return out;
}

/** The JSON Schema document of one wire message, with `$id` and `title` set. */
export function toJsonSchemaDocument(source: JsonSchemaSource): Record<string, unknown> {
  const generated = z.toJSONSchema(source.schema, {
    target: "draft-2020-12",
    io: jsonSchemaIo(source.kind),
  }) as Record<string, unknown>;
  const published = jsonSchemaIo(source.kind) === "output" ? openObjects(generated) : generated;
  return canonicalSchema({
    ...(published as Record<string, unknown>),
    $id: `${JSON_SCHEMA_ID_BASE}${source.file}`,
    title: source.title,
  }) as Record<string, unknown>;
}

/** File name → file text (2-space JSON, trailing newline) of every generated JSON Schema. Pure. */
export function renderJsonSchemas(): Map<string, string> {
  const files = new Map<string, string>();
  for (const source of JSON_SCHEMA_SOURCES) {
    files.set(source.file, `${JSON.stringify(toJsonSchemaDocument(source), null, 2)}\n`);
  }
  return files;
}
