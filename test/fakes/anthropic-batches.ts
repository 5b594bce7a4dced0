// Anthropic's Message Batches: POST /v1/messages/batches with `requests` of {custom_id, params},
// the batch `in_progress` until it has been retrieved twice, then `ended` with a `results_url`
// whose JSONL holds one result per request (succeeded, errored, canceled or expired). Each
// request is answered as POST /v1/messages would answer it. A test scripts how upcoming batches end.
import { randomBytes } from "node:crypto";
import { sendError } from "./anthropic-errors.js";
import { asObject, type Exchange, type JsonObject } from "./fake-http-server.js";

/** How a batch created later ends instead of completing. */
export type FakeMessageBatchEnding = "expired";

/** Answers one request of a batch: the message, or the error a direct call would get. */
export type AnswerBatchRequest = (
  params: JsonObject,
) => { message: JsonObject } | { error: { type: string; message: string } };

interface FakeMessageBatch {
  id: string;
  requests: { custom_id: string; params: JsonObject }[];
  status: "in_progress" | "canceling" | "ended";
  retrievals: number;
  ending: FakeMessageBatchEnding | undefined;
  createdAt: string;
  endedAt: string | null;
  cancelInitiatedAt: string | null;
  results: { custom_id: string; result: JsonObject }[];
}

export interface MessageBatchesState {
  batches: Map<string, FakeMessageBatch>;
  endings: FakeMessageBatchEnding[];
}

export function createMessageBatchesState(): MessageBatchesState {
  return { batches: new Map(), endings: [] };
}

const CUSTOM_ID = /^[a-zA-Z0-9_-]{1,64}$/;
/** Retrievals a batch stays `in_progress` for. */
const RETRIEVALS_TO_END = 2;

/** Answers a /v1/messages/batches route (the caller checked version and key). */
export function answerMessageBatches(
  state: MessageBatchesState,
  exchange: Exchange,
  answer: AnswerBatchRequest,
): void {
  const { method, path } = exchange;
  if (method === "POST" && path === "/v1/messages/batches") return createBatch(state, exchange);
  const match = /^\/v1\/messages\/batches\/([^/]+)(\/cancel|\/results)?$/.exec(path);
  const batch = match ? state.batches.get(match[1]!) : undefined;
  if (!match || !batch) return sendError(exchange, 404, "not_found_error", "Not Found");
  if (method === "GET" && match[2] === undefined) {
    advance(batch, answer);
    return exchange.sendJson(200, batchObject(exchange, batch));
  }
  if (method === "POST" && match[2] === "/cancel") {
    if (batch.status === "in_progress") {
      batch.status = "canceling";
      batch.cancelInitiatedAt = new Date().toISOString();
    }
    return exchange.sendJson(200, batchObject(exchange, batch));
  }
  if (method === "GET" && match[2] === "/results") {
    if (batch.status !== "ended") {
      return sendError(exchange, 400, "invalid_request_error", `Batch ${batch.id} is still in progress.`);
    }
    const jsonl = batch.results.map((line) => JSON.stringify(line)).join("\n") + "\n";
    return exchange.sendRaw(200, "application/binary", jsonl);
  }
  sendError(exchange, 405, "invalid_request_error", "Method Not Allowed");
}

function createBatch(state: MessageBatchesState, exchange: Exchange): void {
  const requests = asObject(exchange.body)?.["requests"];
  if (!Array.isArray(requests) || requests.length === 0) {
    return sendError(exchange, 400, "invalid_request_error", "requests: List should have at least 1 item");
  }
  const seen = new Set<string>();
  const accepted: FakeMessageBatch["requests"] = [];
  for (const [index, request] of requests.entries()) {
    const customId = asObject(request)?.["custom_id"];
    const params = asObject(asObject(request)?.["params"]);
    if (typeof customId !== "string" || !CUSTOM_ID.test(customId)) {
      return sendError(
        exchange,
        400,
        "invalid_request_error",
        `requests.${index}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`,
      );
    }
    if (seen.has(customId)) {
      return sendError(
        exchange,
        400,
        "invalid_request_error",
        `requests.${index}.custom_id: duplicate custom_id '${customId}'`,
      );
    }
    if (!params)
      return sendError(exchange, 400, "invalid_request_error", `requests.${index}.params: Field required`);
    seen.add(customId);
    accepted.push({ custom_id: customId, params });
  }
  const batch: FakeMessageBatch = {
    id: `msgbatch_01${randomBytes(12).toString("base64url")}`,
    requests: accepted,
    status: "in_progress",
    retrievals: 0,
    ending: state.endings.shift(),
    createdAt: new Date().toISOString(),
    endedAt: null,
    cancelInitiatedAt: null,
    results: [],
  };
  state.batches.set(batch.id, batch);
  exchange.sendJson(200, batchObject(exchange, batch));
}

function advance(batch: FakeMessageBatch, answer: AnswerBatchRequest): void {
  if (batch.status === "ended") return;
  batch.retrievals += 1;
  if (batch.status === "in_progress" && batch.retrievals < RETRIEVALS_TO_END) return;
  batch.results = batch.requests.map(({ custom_id, params }) => ({
    custom_id,
    result: resultOf(batch, params, answer),
  }));
  batch.status = "ended";
  batch.endedAt = new Date().toISOString();
}

function resultOf(batch: FakeMessageBatch, params: JsonObject, answer: AnswerBatchRequest): JsonObject {
  if (batch.status === "canceling") return { type: "canceled" };
  if (batch.ending === "expired") return { type: "expired" };
  const answered = answer(params);
  if ("message" in answered) return { type: "succeeded", message: answered.message };
  return { type: "errored", error: { type: "error", error: answered.error } };
}

function batchObject(exchange: Exchange, batch: FakeMessageBatch): JsonObject {
  const count = (type: string) => batch.results.filter((line) => line.result["type"] === type).length;
  const ended = batch.status === "ended";
  const origin = `http://${exchange.headers.host ?? "127.0.0.1"}`;
  return {
    id: batch.id,
    type: "message_batch",
    processing_status: batch.status,
    request_counts: {
      processing: ended ? 0 : batch.requests.length,
      succeeded: count("succeeded"),
      errored: count("errored"),
      canceled: count("canceled"),
      expired: count("expired"),
    },
    ended_at: batch.endedAt,
    created_at: batch.createdAt,
    expires_at: new Date(Date.parse(batch.createdAt) + 24 * 3600 * 1000).toISOString(),
    archived_at: null,
    cancel_initiated_at: batch.cancelInitiatedAt,
    results_url: ended ? `${origin}/v1/messages/batches/${batch.id}/results` : null,
  };
}
