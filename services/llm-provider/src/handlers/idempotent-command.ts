import { LlmProviderError } from "@llm-provider/contracts";
import {
  decideOnRecord,
  idempotencyKey,
  isFinalFailure,
  markReplayed,
  requestFingerprint,
} from "../domain/idempotency.js";
import type { IdempotencyRecord } from "../domain/idempotency.js";
import type { IdempotencyStore } from "../ports/idempotency-store.js";
import { EncodedReply } from "../ports/request-handler.js";
import type { Handler, RequestContext } from "../ports/request-handler.js";

export interface IdempotencyDeps {
  store: IdempotencyStore;
  /** How long a claim stays valid without renewal: a dead worker's claim is taken over after it. */
  leaseMs: number;
  /** This worker, as its claims name it. */
  owner: string;
  /** The wait bound of a request without `timeout_ms`. */
  defaultTimeoutMs: number;
}

/**
 * A command served at most once per caller request id: the first request with a `Request-Id`
 * claims it, a duplicate that arrives meanwhile waits (within its own deadline) for that outcome,
 * a later one gets the stored reply marked `replayed` (no provider call, no event) or the same
 * final error, and a claim whose worker died (its lease ran out) is taken over. A retryable
 * failure is not kept: the next try is served afresh. Requests without a caller id are not
 * touched (the durable jobs path calls generate_embedding so: its results stream already keeps one
 * result per item); a store that cannot be reached serves the request without the guarantee (logged).
 * The reply is kept as the JSON bytes sent, and replayed as those bytes with the marker added.
 */
export function idempotent(subject: string, handler: Handler, deps: IdempotencyDeps): Handler {
  return async function idempotentCommand(body, context) {
    if (!context.requestIdFromCaller) return handler(body, context);
    const key = idempotencyKey(subject, context.caller, context.requestId);
    const fingerprint = requestFingerprint(body);
    const waitUntil =
      Date.now() + timeoutOf(body, deps.defaultTimeoutMs) - (performance.now() - context.receivedAt);
    const running = (): IdempotencyRecord => ({
      state: "running",
      fingerprint,
      owner: deps.owner,
      lease_until: Date.now() + deps.leaseMs,
    });
    let claimed: { claimed: number } | { existing: { record: IdempotencyRecord; revision: number } };
    try {
      claimed = await deps.store.claim(key, running());
    } catch (error) {
      context.log.warn(
        { err: error },
        "request ids cannot be checked: served without the once-only guarantee",
      );
      return handler(body, context);
    }
    for (;;) {
      if ("claimed" in claimed)
        return serve(handler, body, context, { key, fingerprint, revision: claimed.claimed, running }, deps);
      const { record, revision } = claimed.existing;
      const decision = decideOnRecord(record, fingerprint, Date.now());
      switch (decision.kind) {
        case "mismatch":
          throw new LlmProviderError(
            "invalid_request",
            "this Request-Id was used for a different request: a retry must send the same body",
            { field: "Request-Id" },
          );
        case "replay":
          return new EncodedReply(markReplayed(decision.reply));
        case "fail":
          throw LlmProviderError.fromBody(decision.error);
        case "take_over": {
          const revisionTaken = await deps.store.replace(key, running(), revision);
          claimed =
            revisionTaken !== undefined ? { claimed: revisionTaken } : await deps.store.claim(key, running());
          break;
        }
        case "wait": {
          if (Date.now() >= waitUntil)
            throw new LlmProviderError(
              "deadline_exceeded",
              "the same request (this Request-Id) is still being served; retry later for its answer",
            );
          const next = await deps.store.nextChange(key, revision, Math.min(decision.leaseUntil, waitUntil));
          if (next === "deleted") claimed = await deps.store.claim(key, running());
          else if (next !== undefined) claimed = { existing: next };
          // Nothing changed by the bound: the lease ran out (take over) or the wait did (deadline).
          else claimed = { existing: { record, revision } };
        }
      }
    }
  };
}

interface Claim {
  key: string;
  fingerprint: string;
  revision: number;
  running: () => IdempotencyRecord;
}

/** Serves a claimed request, renewing the claim while it runs, and stores its outcome over it. */
async function serve(
  handler: Handler,
  body: unknown,
  context: RequestContext,
  claim: Claim,
  deps: IdempotencyDeps,
): Promise<unknown> {
  const lease = new LeaseKeeper(deps.store, claim, deps.leaseMs, context);
  try {
    const reply = await handler(body, context);
    await lease.finish({ state: "done", fingerprint: claim.fingerprint, reply: replyJson(reply) });
    return reply;
  } catch (error) {
    const failure = error instanceof LlmProviderError ? error.toBody() : undefined;
    if (failure && isFinalFailure(failure))
      await lease.finish({ state: "failed", fingerprint: claim.fingerprint, error: failure });
    else await lease.release();
    throw error;
  }
}

/**
 * Renews a claim every third of its lease, and writes the outcome after the last renewal settled
 * (every write is compare-and-set on the revision the previous one left). A store failure here
 * does not fail the request: its caller still gets its answer; duplicates may then be served again.
 */
class LeaseKeeper {
  #revision: number;
  #pending: Promise<void> = Promise.resolve();
  /** A write failed: the claim may still say running, so the outcome is not left behind it. */
  #writeFailed = false;
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly store: IdempotencyStore,
    private readonly claim: Claim,
    leaseMs: number,
    private readonly context: RequestContext,
  ) {
    this.#revision = claim.revision;
    this.#timer = setInterval(() => this.#write(claim.running()), Math.max(1, Math.floor(leaseMs / 3)));
  }

  async finish(outcome: IdempotencyRecord): Promise<void> {
    clearInterval(this.#timer);
    this.#write(outcome);
    await this.#pending;
    // A duplicate would otherwise wait out the lease: let it be served afresh instead.
    if (this.#writeFailed) await this.release();
  }

  async release(): Promise<void> {
    clearInterval(this.#timer);
    await this.#pending;
    await this.store.release(this.claim.key, this.#revision).catch((error: unknown) => this.#warn(error));
  }

  #write(record: IdempotencyRecord): void {
    this.#pending = this.#pending.then(async () => {
      try {
        const revision = await this.store.replace(this.claim.key, record, this.#revision);
        if (revision === undefined)
          this.context.log.warn("the claim on this Request-Id was taken over meanwhile");
        else this.#revision = revision;
      } catch (error) {
        this.#writeFailed = true;
        this.#warn(error);
      }
    });
  }

  #warn(error: unknown): void {
    this.context.log.warn({ err: error }, "the outcome of this Request-Id could not be stored");
  }
}

/** The reply's bytes as the edge sends them (an encoded reply as it is, anything else as JSON). */
function replyJson(reply: unknown): Uint8Array {
  return reply instanceof EncodedReply ? reply.bytes : Buffer.from(JSON.stringify(reply));
}

function timeoutOf(body: unknown, defaultTimeoutMs: number): number {
  const timeout = (body as { timeout_ms?: unknown } | null)?.timeout_ms;
  return typeof timeout === "number" && timeout > 0 ? timeout : defaultTimeoutMs;
}
