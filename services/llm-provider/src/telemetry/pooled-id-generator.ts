import { randomFillSync } from "node:crypto";
import type { IdGenerator } from "@opentelemetry/sdk-trace-base";

/** Random bytes hex-encoded in one go: ids for 256 spans (8 bytes each) per refill. */
const POOL_BYTES = 2_048;
const ZERO_SPAN_ID = "0".repeat(16);
const ZERO_TRACE_ID = "0".repeat(32);

/**
 * Trace and span ids cut from a pool of cryptographically random bytes, hex-encoded once per
 * refill. The SDK's generator writes `Math.random()` words into a buffer and hex-encodes it for
 * each id: two to three of those per request, visible in the service's profile. An all-zero id is
 * invalid in W3C trace context; as the SDK does, its last digit becomes 1.
 */
export class PooledIdGenerator implements IdGenerator {
  readonly #bytes = Buffer.allocUnsafe(POOL_BYTES);
  #hex = "";
  #offset = 0;

  generateTraceId(): string {
    const id = this.#take(32);
    return id === ZERO_TRACE_ID ? `${id.slice(0, 31)}1` : id;
  }

  generateSpanId(): string {
    const id = this.#take(16);
    return id === ZERO_SPAN_ID ? `${id.slice(0, 15)}1` : id;
  }

  #take(digits: number): string {
    if (this.#offset + digits > this.#hex.length) {
      this.#hex = randomFillSync(this.#bytes).toString("hex");
      this.#offset = 0;
    }
    return this.#hex.slice(this.#offset, (this.#offset += digits));
  }
}
