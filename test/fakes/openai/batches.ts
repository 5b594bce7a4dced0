// OpenAI's Files (purpose "batch") and Batch API: a JSONL file uploaded as multipart, a batch
// created on it, each retrieve moving it one status on (validating → in_progress → finalizing →
// completed), and its output and error files. Each line is answered by this fake's own endpoint
// through a loopback call, so a batch line gets exactly what a direct call would (vectors, usage,
// a model's scripted error). A test scripts how upcoming batches end (`failed`, `expired`).
import { randomBytes } from "node:crypto";
import { asObject } from "../fake-http-server.js";
import { invalidRequest } from "./errors.js";
import { sendError, sendJson, sendRaw } from "./responses.js";
import type { Exchange, ServerState } from "./server-state.js";

/** How a batch created later ends instead of completing; `stalled` stays in_progress until cancelled. */
export type FakeBatchEnding = "failed" | "expired" | "stalled";

/** Marks the fake's own calls for batch lines: they skip the queue of scripted behaviors. */
export const BATCH_LINE_HEADER = "x-fake-batch-line";

const BATCH_ENDPOINTS = new Set(["/v1/embeddings", "/v1/chat/completions"]);
const PENDING_STEPS = ["validating", "in_progress", "finalizing"] as const;

interface FakeFile {
  id: string;
  purpose: string;
  filename: string;
  content: string;
  createdAt: number;
}

interface FakeBatch {
  id: string;
  endpoint: string;
  inputFileId: string;
  lines: { custom_id: string; body: unknown }[];
  status: string;
  ending: FakeBatchEnding | undefined;
  authorization: string | undefined;
  createdAt: number;
  times: Record<string, number>;
  outputFileId: string | null;
  errorFileId: string | null;
  errors: { code: string; message: string; line: number | null }[] | null;
  counts: { total: number; completed: number; failed: number };
}

export interface BatchApiState {
  files: Map<string, FakeFile>;
  batches: Map<string, FakeBatch>;
  endings: FakeBatchEnding[];
  /** `http://127.0.0.1:PORT`, for the loopback calls that answer lines. */
  origin: string;
}

export function createBatchApiState(): BatchApiState {
  return { files: new Map(), batches: new Map(), endings: [], origin: "" };
}

const nowSeconds = () => Math.floor(Date.now() / 1000);
const newId = (prefix: string) => `${prefix}${randomBytes(12).toString("hex")}`;

/** Answers the Files and Batch routes; false when the route is not one of them. */
export function answerBatchApi(state: ServerState, exchange: Exchange): boolean {
  const { method, path } = exchange;
  if (method === "POST" && path === "/v1/files") return done(uploadFile(state, exchange));
  const content = /^\/v1\/files\/([^/]+)\/content$/.exec(path);
  if (method === "GET" && content) return done(sendFileContent(state, exchange, content[1]!));
  if (method === "POST" && path === "/v1/batches") return done(createBatch(state, exchange));
  const cancel = /^\/v1\/batches\/([^/]+)\/cancel$/.exec(path);
  if (method === "POST" && cancel) return done(cancelBatch(state, exchange, cancel[1]!));
  const retrieve = /^\/v1\/batches\/([^/]+)$/.exec(path);
  if (method === "GET" && retrieve) return done(retrieveBatch(state, exchange, retrieve[1]!));
  return false;
}

function done(work: Promise<void> | void): true {
  if (work instanceof Promise) work.catch(() => undefined);
  return true;
}

async function uploadFile(state: ServerState, exchange: Exchange): Promise<void> {
  const contentType = exchange.req.headers["content-type"] ?? "";
  if (!contentType.startsWith("multipart/form-data")) {
    return sendError(state, exchange, invalidRequest("Files must be uploaded as multipart/form-data."));
  }
  const form = await new Response(exchange.raw, { headers: { "content-type": contentType } }).formData();
  const file = form.get("file");
  const purpose = form.get("purpose");
  if (typeof purpose !== "string") {
    return sendError(state, exchange, invalidRequest("Missing required parameter: 'purpose'.", "purpose"));
  }
  if (file === null || typeof file === "string") {
    return sendError(state, exchange, invalidRequest("Missing required parameter: 'file'.", "file"));
  }
  const stored: FakeFile = {
    id: newId("file-"),
    purpose,
    filename: file.name,
    content: await file.text(),
    createdAt: nowSeconds(),
  };
  state.batchApi.files.set(stored.id, stored);
  sendJson(state, exchange, 200, fileObject(stored));
}

function fileObject(file: FakeFile) {
  return {
    id: file.id,
    object: "file",
    bytes: Buffer.byteLength(file.content),
    created_at: file.createdAt,
    filename: file.filename,
    purpose: file.purpose,
    status: "processed",
    expires_at: null,
    status_details: null,
  };
}

function sendFileContent(state: ServerState, exchange: Exchange, fileId: string): void {
  const file = state.batchApi.files.get(fileId);
  if (!file) return sendError(state, exchange, notFound(`No such File object: ${fileId}`));
  sendRaw(state, exchange, 200, "application/octet-stream", file.content);
}

function notFound(message: string) {
  return { status: 404, error: { message, type: "invalid_request_error", param: "id", code: null } };
}

/** The input file's lines, or the errors that fail the batch at validation (as OpenAI reports them). */
function parseInputLines(file: FakeFile, endpoint: string) {
  const lines: FakeBatch["lines"] = [];
  const errors: NonNullable<FakeBatch["errors"]> = [];
  const seen = new Set<string>();
  file.content.split("\n").forEach((text, index) => {
    if (text.trim() === "") return;
    const line = index + 1;
    let parsed: Record<string, unknown> | undefined;
    try {
      parsed = asObject(JSON.parse(text));
    } catch {
      parsed = undefined;
    }
    const customId = parsed?.["custom_id"];
    if (!parsed || typeof customId !== "string") {
      errors.push({ code: "invalid_json_line", message: "This line is not parseable as valid JSON.", line });
    } else if (seen.has(customId)) {
      errors.push({
        code: "duplicate_custom_id",
        message: "The custom_id for this request is a duplicate.",
        line,
      });
    } else if (parsed["method"] !== "POST" || parsed["url"] !== endpoint) {
      errors.push({ code: "mismatched_endpoint", message: `The request URL must be ${endpoint}.`, line });
    } else if (typeof asObject(parsed["body"])?.["model"] !== "string") {
      errors.push({
        code: "missing_required_parameter",
        message: "Missing required parameter: 'model'.",
        line,
      });
    } else {
      seen.add(customId);
      lines.push({ custom_id: customId, body: parsed["body"] });
    }
  });
  if (lines.length === 0 && errors.length === 0) {
    errors.push({ code: "empty_file", message: "The batch input file is empty.", line: null });
  }
  return { lines, errors };
}

function createBatch(state: ServerState, exchange: Exchange): void {
  const request = asObject(exchange.body);
  const endpoint = request?.["endpoint"];
  const inputFileId = request?.["input_file_id"];
  if (typeof endpoint !== "string" || !BATCH_ENDPOINTS.has(endpoint)) {
    return sendError(state, exchange, invalidRequest("Invalid 'endpoint'.", "endpoint"));
  }
  if (request?.["completion_window"] !== "24h") {
    return sendError(state, exchange, invalidRequest("Invalid 'completion_window'.", "completion_window"));
  }
  const file = typeof inputFileId === "string" ? state.batchApi.files.get(inputFileId) : undefined;
  if (!file || file.purpose !== "batch") {
    return sendError(
      state,
      exchange,
      invalidRequest(`Invalid 'input_file_id': ${String(inputFileId)}`, "input_file_id"),
    );
  }
  const { lines, errors } = parseInputLines(file, endpoint);
  const authorization = exchange.req.headers.authorization;
  const batch: FakeBatch = {
    id: newId("batch_"),
    endpoint,
    inputFileId: file.id,
    lines,
    status: "validating",
    ending: state.batchApi.endings.shift(),
    authorization,
    createdAt: nowSeconds(),
    times: {},
    outputFileId: null,
    errorFileId: null,
    errors: errors.length > 0 ? errors : null,
    counts: { total: 0, completed: 0, failed: 0 },
  };
  if (batch.ending === "failed" && batch.errors === null) {
    batch.errors = [
      {
        code: "token_limit_exceeded",
        message:
          "Enqueued token limit reached for this model in organization. Please try again once some in_progress batches have been completed.",
        line: null,
      },
    ];
  }
  state.batchApi.batches.set(batch.id, batch);
  sendJson(state, exchange, 200, batchObject(batch));
}

function batchObject(batch: FakeBatch) {
  const at = (name: string) => batch.times[name] ?? null;
  return {
    id: batch.id,
    object: "batch",
    endpoint: batch.endpoint,
    errors: batch.errors ? { object: "list", data: batch.errors } : null,
    input_file_id: batch.inputFileId,
    completion_window: "24h",
    status: batch.status,
    output_file_id: batch.outputFileId,
    error_file_id: batch.errorFileId,
    created_at: batch.createdAt,
    in_progress_at: at("in_progress"),
    expires_at: batch.createdAt + 24 * 3600,
    finalizing_at: at("finalizing"),
    completed_at: at("completed"),
    failed_at: at("failed"),
    expired_at: at("expired"),
    cancelling_at: at("cancelling"),
    cancelled_at: at("cancelled"),
    request_counts: batch.counts,
    metadata: null,
  };
}

function moveTo(batch: FakeBatch, status: string): void {
  batch.status = status;
  batch.times[status] = nowSeconds();
}

/** Each retrieve moves a batch one status on; answering its lines happens on the way to `completed`. */
async function retrieveBatch(state: ServerState, exchange: Exchange, batchId: string): Promise<void> {
  const batch = state.batchApi.batches.get(batchId);
  if (!batch) return sendError(state, exchange, notFound(`No batch found with id '${batchId}'.`));
  await advance(state, batch);
  sendJson(state, exchange, 200, batchObject(batch));
}

async function advance(state: ServerState, batch: FakeBatch): Promise<void> {
  if (batch.status === "cancelling") return moveTo(batch, "cancelled");
  const step = PENDING_STEPS.indexOf(batch.status as (typeof PENDING_STEPS)[number]);
  if (step === -1) return; // ended
  batch.counts.total = batch.lines.length;
  if (batch.status === "validating" && batch.errors !== null) return moveTo(batch, "failed");
  if (batch.status === "in_progress" && batch.ending === "stalled") return;
  if (batch.status === "in_progress" && batch.ending === "expired") {
    batch.counts.failed = batch.lines.length;
    batch.errorFileId = storeOutput(
      state,
      batch,
      batch.lines.map((line) => expiredLine(line.custom_id)),
    );
    return moveTo(batch, "expired");
  }
  if (batch.status === "finalizing") {
    await answerLines(state, batch);
    return moveTo(batch, "completed");
  }
  moveTo(batch, PENDING_STEPS[step + 1]!);
}

function expiredLine(customId: string) {
  return {
    id: newId("batch_req_"),
    custom_id: customId,
    response: null,
    error: {
      code: "batch_expired",
      message: "This request could not be executed before the completion window expired.",
    },
  };
}

async function answerLines(state: ServerState, batch: FakeBatch): Promise<void> {
  const answers = await Promise.all(batch.lines.map((line) => answerLine(state, batch, line)));
  const outputs = answers.filter((answer) => answer.response.status_code === 200);
  const errors = answers.filter((answer) => answer.response.status_code !== 200);
  batch.counts.completed = outputs.length;
  batch.counts.failed = errors.length;
  if (outputs.length > 0) batch.outputFileId = storeOutput(state, batch, outputs);
  if (errors.length > 0) batch.errorFileId = storeOutput(state, batch, errors);
}

async function answerLine(state: ServerState, batch: FakeBatch, line: FakeBatch["lines"][number]) {
  const response = await fetch(`${state.batchApi.origin}${batch.endpoint}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      [BATCH_LINE_HEADER]: "1",
      ...(batch.authorization ? { authorization: batch.authorization } : {}),
    },
    body: JSON.stringify(line.body),
  });
  const body = await response.json();
  return {
    id: newId("batch_req_"),
    custom_id: line.custom_id,
    response: { status_code: response.status, request_id: response.headers.get("x-request-id"), body },
    error: null,
  };
}

function storeOutput(state: ServerState, batch: FakeBatch, lines: unknown[]): string {
  const file: FakeFile = {
    id: newId("file-"),
    purpose: "batch_output",
    filename: `${batch.id}_output.jsonl`,
    content: lines.map((line) => JSON.stringify(line)).join("\n") + "\n",
    createdAt: nowSeconds(),
  };
  state.batchApi.files.set(file.id, file);
  return file.id;
}

function cancelBatch(state: ServerState, exchange: Exchange, batchId: string): void {
  const batch = state.batchApi.batches.get(batchId);
  if (!batch) return sendError(state, exchange, notFound(`No batch found with id '${batchId}'.`));
  if (!PENDING_STEPS.includes(batch.status as (typeof PENDING_STEPS)[number])) {
    return sendError(state, exchange, {
      status: 409,
      error: {
        message: `Cannot cancel a batch with status '${batch.status}'.`,
        type: "invalid_request_error",
        param: null,
        code: null,
      },
    });
  }
  moveTo(batch, "cancelling");
  sendJson(state, exchange, 200, batchObject(batch));
}
