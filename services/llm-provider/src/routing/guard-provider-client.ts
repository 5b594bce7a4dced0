import type { ProviderSpec } from "../domain/catalog.js";
import { FailureClass, UpstreamError } from "../domain/failure.js";
import { estimatePromptTokens } from "../domain/tokens.js";
import type { ChatCall, ChatStreamPart, EmbeddingCall, ProviderClient } from "../providers/port.js";
import type { BreakerBoard } from "./breaker-board.js";
import type { RateLimiter } from "./rate-limiter.js";

export interface ProviderGuards {
  breakers: BreakerBoard;
  limiter: RateLimiter;
}

/**
 * Puts a provider behind its circuit breaker and its RPM/TPM budget. A refused attempt is not
 * made: it fails as `circuit_open` or `local_rate_limited` (recorded as skipped), which falls back
 * at once. Every real outcome is reported to the breaker.
 */
export function guardProviderClient(
  client: ProviderClient,
  provider: ProviderSpec,
  guards: ProviderGuards,
): ProviderClient {
  const { providerId } = client;
  const { breakers, limiter } = guards;
  const limits = { rpm: provider.config.rpm, tpm: provider.config.tpm };

  async function admit(estimatedTokens: number): Promise<void> {
    if (!(await breakers.admit(providerId))) {
      throw new UpstreamError(
        FailureClass.circuitOpen,
        `circuit breaker of provider '${providerId}' is open`,
        {
          retryAfterMs: breakers.retryAfterMs(providerId),
        },
      );
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

  function report(error: unknown): void {
    if (error instanceof UpstreamError) breakers.report(providerId, error.failure);
  }

  async function guarded<T>(estimatedTokens: number, call: () => Promise<T>): Promise<T> {
    await admit(estimatedTokens);
    try {
      const result = await call();
      breakers.report(providerId, true);
      return result;
    } catch (error) {
      report(error);
      throw error;
    }
  }

  const chatTokens = (call: ChatCall) =>
    estimatePromptTokens(call.request.messages) + (call.request.max_tokens ?? call.modelMaxTokens);

  const guardedClient: ProviderClient = {
    providerId,
    completeChat: (call: ChatCall) => guarded(chatTokens(call), () => client.completeChat(call)),
  };
  if (client.generateEmbeddings) {
    guardedClient.generateEmbeddings = (call: EmbeddingCall) => {
      const tokens = Math.ceil(call.inputs.reduce((sum, input) => sum + input.length, 0) / 4);
      return guarded(tokens, () => client.generateEmbeddings!(call));
    };
  }
  if (client.streamChat) {
    guardedClient.streamChat = async function* (call: ChatCall): AsyncGenerator<ChatStreamPart> {
      await admit(chatTokens(call));
      try {
        for await (const part of client.streamChat!(call)) {
          if (part.type === "end") breakers.report(providerId, true);
          yield part;
        }
      } catch (error) {
        report(error);
        throw error;
      }
    };
  }
  return guardedClient;
}
