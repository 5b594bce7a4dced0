import type { ProviderSpec } from "../domain/catalog.js";
import { FailureClass, UpstreamError } from "../domain/failure.js";
import { estimateEmbeddingTokens } from "../domain/embedding-batch.js";
import type {
  ChatCall,
  ChatStreamPart,
  ChatUsage,
  EmbeddingCall,
  ProviderClient,
} from "../ports/provider-client.js";
import { breakerKey } from "../ports/breaker-board.js";
import type { BreakerBoard } from "../ports/breaker-board.js";
import { estimateChatTokens } from "../domain/tokens.js";
import type { InFlightGauge } from "../ports/health-recorder.js";
import type { RateLimiter, RateLimits } from "../ports/rate-limiter.js";

export interface ProviderGuards {
  breakers: BreakerBoard;
  limiter: RateLimiter;
  /** Counts the calls let through while they run (least-busy load balancing reads it). */
  inFlight: InFlightGauge;
}

/**
 * Puts a provider's models behind their circuit breakers (one per model, `breakerKey`) and the
 * provider behind its RPM/TPM budget. A refused attempt is not
 * made: it fails as `circuit_open` or `local_rate_limited` (recorded as skipped), which falls back
 * at once. Every real outcome is reported to the breaker; the token count of every answer settles
 * the estimate the budget was taken with. A call let through counts as in flight until it ends.
 */
export function guardProviderClient(
  client: ProviderClient,
  provider: ProviderSpec,
  guards: ProviderGuards,
): ProviderClient {
  const guard = new ProviderGuard(
    client.providerId,
    { rpm: provider.config.rpm, tpm: provider.config.tpm },
    guards,
  );
  const guardedClient: ProviderClient = {
    providerId: client.providerId,
    completeChat: (call: ChatCall) =>
      guarded(
        guard,
        call.upstreamModel,
        chatTokens(call),
        () => client.completeChat(call),
        (outcome) => totalTokens(outcome.usage),
      ),
  };
  if (client.generateEmbeddings) {
    guardedClient.generateEmbeddings = (call: EmbeddingCall) =>
      guarded(
        guard,
        call.upstreamModel,
        estimateEmbeddingTokens(call.inputs),
        () => client.generateEmbeddings!(call),
        (outcome) => outcome.usage?.promptTokens,
      );
  }
  if (client.streamChat) guardedClient.streamChat = (call: ChatCall) => guardedStream(guard, client, call);
  return guardedClient;
}

/** One call that was let through: its breaker, its estimate, and when the budget was taken. */
interface AdmittedCall {
  breaker: string;
  estimatedTokens: number;
  startedAt: number;
}

/** One provider's breakers and budget, as every guarded call of its client uses them. */
class ProviderGuard {
  readonly #providerId: string;
  readonly #limits: RateLimits;
  readonly #breakers: BreakerBoard;
  readonly #limiter: RateLimiter;
  readonly #inFlight: InFlightGauge;

  constructor(providerId: string, limits: RateLimits, guards: ProviderGuards) {
    this.#providerId = providerId;
    this.#limits = limits;
    this.#breakers = guards.breakers;
    this.#limiter = guards.limiter;
    this.#inFlight = guards.inFlight;
  }

  /** Lets a call of `upstreamModel` through, or throws the local refusal: breaker first, then budget. */
  async admit(upstreamModel: string, estimatedTokens: number): Promise<AdmittedCall> {
    const breaker = breakerKey(this.#providerId, upstreamModel);
    const startedAt = Date.now();
    if (!(await this.#breakers.admit(breaker))) {
      throw new UpstreamError(FailureClass.circuitOpen, `circuit breaker of '${breaker}' is open`, {
        retryAfterMs: this.#breakers.retryAfterMs(breaker),
      });
    }
    if (!(await this.#limiter.acquire(this.#providerId, this.#limits, estimatedTokens))) {
      throw new UpstreamError(
        FailureClass.localRateLimited,
        `rate limit of provider '${this.#providerId}' reached`,
        { retryAfterMs: this.#limiter.retryAfterMs(this.#providerId) },
      );
    }
    this.#inFlight.callStarted(this.#providerId);
    return { breaker, estimatedTokens, startedAt };
  }

  /** The call let through is over, whatever its outcome. */
  ended(): void {
    this.#inFlight.callEnded(this.#providerId);
  }

  /**
   * An answer: the breaker hears of it, and the provider's count replaces the estimate. A call that
   * answered without a count keeps its estimate: nothing says it used fewer.
   */
  answered(call: AdmittedCall, actualTokens: number | undefined): void {
    this.#breakers.report(call.breaker, true);
    if (actualTokens === undefined) return;
    void this.#limiter.settle(this.#providerId, this.#limits, {
      estimatedTokens: call.estimatedTokens,
      actualTokens,
      startedAt: call.startedAt,
    });
  }

  /** A failure: the breaker hears of a classified one. It keeps its estimate, as providers count failed requests too. */
  failed(call: AdmittedCall, error: unknown): void {
    if (error instanceof UpstreamError) this.#breakers.report(call.breaker, error.failure);
  }
}

async function guarded<T>(
  guard: ProviderGuard,
  upstreamModel: string,
  estimatedTokens: number,
  call: () => Promise<T>,
  actualTokens: (result: T) => number | undefined,
): Promise<T> {
  const admitted = await guard.admit(upstreamModel, estimatedTokens);
  try {
    const result = await call();
    guard.answered(admitted, actualTokens(result));
    return result;
  } catch (error) {
    guard.failed(admitted, error);
    throw error;
  } finally {
    guard.ended();
  }
}

/** A streamed call: answered once its `end` part arrives, failed when the stream throws. */
async function* guardedStream(
  guard: ProviderGuard,
  client: ProviderClient,
  call: ChatCall,
): AsyncGenerator<ChatStreamPart> {
  const admitted = await guard.admit(call.upstreamModel, chatTokens(call));
  try {
    for await (const part of client.streamChat!(call)) {
      if (part.type === "end") guard.answered(admitted, totalTokens(part.end.usage));
      yield part;
    }
  } catch (error) {
    guard.failed(admitted, error);
    throw error;
  } finally {
    guard.ended();
  }
}

function chatTokens(call: ChatCall): number {
  return estimateChatTokens(call.request, call.modelMaxTokens);
}

function totalTokens(usage: ChatUsage | undefined): number | undefined {
  return usage === undefined ? undefined : usage.promptTokens + usage.completionTokens;
}
