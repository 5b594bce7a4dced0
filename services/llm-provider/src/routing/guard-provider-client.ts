import { FailureClass, UpstreamError } from "../domain/failure.js";
import type { ChatCall, ChatStreamPart, EmbeddingCall, ProviderClient } from "../providers/port.js";
import type { BreakerBoard } from "./breaker-board.js";

/**
 * Puts a provider behind its circuit breaker: while the breaker is open an attempt is not made
 * (a `circuit_open` failure, which falls back at once), and every outcome is reported to it.
 */
export function guardProviderClient(client: ProviderClient, board: BreakerBoard): ProviderClient {
  const { providerId } = client;

  async function admit(): Promise<void> {
    if (await board.admit(providerId)) return;
    throw new UpstreamError(FailureClass.circuitOpen, `circuit breaker of provider '${providerId}' is open`, {
      retryAfterMs: board.retryAfterMs(providerId),
    });
  }

  function report(error: unknown): void {
    if (error instanceof UpstreamError && error.failure !== FailureClass.circuitOpen)
      board.report(providerId, error.failure);
  }

  async function guarded<T>(call: () => Promise<T>): Promise<T> {
    await admit();
    try {
      const result = await call();
      board.report(providerId, true);
      return result;
    } catch (error) {
      report(error);
      throw error;
    }
  }

  const guardedClient: ProviderClient = {
    providerId,
    completeChat: (call: ChatCall) => guarded(() => client.completeChat(call)),
  };
  if (client.generateEmbeddings) {
    guardedClient.generateEmbeddings = (call: EmbeddingCall) =>
      guarded(() => client.generateEmbeddings!(call));
  }
  if (client.streamChat) {
    guardedClient.streamChat = async function* (call: ChatCall): AsyncGenerator<ChatStreamPart> {
      await admit();
      try {
        for await (const part of client.streamChat!(call)) {
          if (part.type === "end") board.report(providerId, true);
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
