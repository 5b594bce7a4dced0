import type { ProviderSpec } from "../domain/catalog.js";
import { FailureClass, UpstreamError } from "../domain/failure.js";
import { estimateEmbeddingTokens } from "../domain/embedding-batch.js";
import type {
  ChatCall,
  ChatStreamPart,
  ChatUsage,
  EmbeddingCall,
  ProviderClient,
} from "../providers/port.js";
import { breakerKey } from "./breaker-board.js";
import type { BreakerBoard } from "./breaker-board.js";
import { estimateChatTokens } from "../domain/tokens.js";
import type { RateLimiter } from "./rate-limiter.js";

export interface ProviderGuards {
  breakers: BreakerBoard;
  limiter: RateLimiter;
}

/**
 * Puts a provider's models behind their circuit breakers (one per model, `breakerKey`) and the
 * provider behind its RPM/TPM budget. A refused attempt is not
 * made: it fails as `circuit_open` or `local_rate_limited` (recorded as skipped), which falls back
 * at once. Every real outcome is reported to the breaker; the token count of every answer settles
 * the estimate the budget was taken with.
 */
export function guardProviderClient(
  client: ProviderClient,
  provider: ProviderSpec,
  guards: ProviderGuards,
): ProviderClient {
  const { providerId } = client;
  const { breakers, limiter } = guards;
  const limits = { rpm: provider.config.rpm, tpm: provider.config.tpm };

  async function admit(breaker: string, estimatedTokens: number): Promise<void> {
    if (!(await breakers.admit(breaker))) {
      throw new UpstreamError(FailureClass.circuitOpen, `circuit breaker of '${breaker}' is open`, {
        retryAfterMs: breakers.retryAfterMs(breaker),
      });
    }
    if (!(await limiter.acquire(providerId, limits, estimatedTokens))) {
      throw new UpstreamError(
        FailureClass.localRateLimited,
        `rate limit of provider '${providerId}' reached`,
        {
          retryAfterMs: limiter.retryAfterMs(providerId),
        },
      );
    }
  }

  function report(breaker: string, error: unknown): void {
    if (error instanceof UpstreamError) breakers.report(breaker, error.failure);
  }

  /**
   * The provider's count replaces the estimate. A call that failed, or answered without a count,
   * keeps its estimate: providers count failed requests against their limits too, and nothing
   * says it used fewer.
   */
  function settle(estimatedTokens: number, actualTokens: number | undefined, startedAt: number): void {
    if (actualTokens === undefined) return;
    void limiter.settle(providerId, limits, { estimatedTokens, actualTokens, startedAt });
  }

  async function guarded<T>(
    upstreamModel: string,
    estimatedTokens: number,
    call: () => Promise<T>,
    actualTokens: (result: T) => number | undefined,
  ): Promise<T> {
    const breaker = breakerKey(providerId, upstreamModel);
    const startedAt = Date.now();
    await admit(breaker, estimatedTokens);
    try {
      const result = await call();
      breakers.report(breaker, true);
      settle(estimatedTokens, actualTokens(result), startedAt);
      return result;
    } catch (error) {
      report(breaker, error);
      throw error;
    }
  }

  const chatTokens = (call: ChatCall) => estimateChatTokens(call.request, call.modelMaxTokens);

  const guardedClient: ProviderClient = {
    providerId,
    completeChat: (call: ChatCall) =>
      guarded(
        call.upstreamModel,
        chatTokens(call),
        () => client.completeChat(call),
        (outcome) => totalTokens(outcome.usage),
      ),
  };
  if (client.generateEmbeddings) {
    guardedClient.generateEmbeddings = (call: EmbeddingCall) =>
      guarded(
        call.upstreamModel,
        estimateEmbeddingTokens(call.inputs),
        () => client.generateEmbeddings!(call),
        (outcome) => outcome.usage?.promptTokens,
      );
  }
  if (client.streamChat) {
    guardedClient.streamChat = async function* (call: ChatCall): AsyncGenerator<ChatStreamPart> {
      const estimatedTokens = chatTokens(call);
      const breaker = breakerKey(providerId, call.upstreamModel);
      const startedAt = Date.now();
      await admit(breaker, estimatedTokens);
      try {
        for await (const part of client.streamChat!(call)) {
          if (part.type === "end") {
            breakers.report(breaker, true);
            settle(estimatedTokens, totalTokens(part.end.usage), startedAt);
          }
          yield part;
        }
      } catch (error) {
        report(breaker, error);
        throw error;
      }
    };
  }
  return guardedClient;
}

function totalTokens(usage: ChatUsage | undefined): number | undefined {
  return usage === undefined ? undefined : usage.promptTokens + usage.completionTokens;
}
