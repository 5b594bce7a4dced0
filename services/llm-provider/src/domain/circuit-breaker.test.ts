import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "./circuit-breaker.js";

describe("CircuitBreaker", () => {
  it("opens after the threshold of consecutive failures and rejects while open", () => {
    const breaker = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1_000 });
    for (let call = 0; call < 2; call++) {
      expect(breaker.tryAcquire(0)).toBe(true);
      breaker.recordFailure(0);
    }
    expect(breaker.state).toBe("closed");
    breaker.recordSuccess(); // a success resets the count
    for (let call = 0; call < 3; call++) breaker.recordFailure(10);
    expect(breaker.state).toBe("open");
    expect(breaker.tryAcquire(500)).toBe(false);
    expect(breaker.retryAfterMs(500)).toBe(510);
  });

  it("lets exactly one probe through after the cool-down; success closes, failure reopens", () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 1_000 });
    breaker.recordFailure(0);
    expect(breaker.tryAcquire(1_000)).toBe(true); // the probe
    expect(breaker.state).toBe("half_open");
    expect(breaker.tryAcquire(1_001)).toBe(false); // everyone else waits for it
    breaker.recordFailure(1_200);
    expect(breaker.state).toBe("open");
    expect(breaker.tryAcquire(2_100)).toBe(false);
    expect(breaker.tryAcquire(2_200)).toBe(true);
    breaker.recordSuccess();
    expect(breaker.state).toBe("closed");
    expect(breaker.tryAcquire(2_201)).toBe(true);
    expect(breaker.tryAcquire(2_202)).toBe(true);
  });
});

describe("CircuitBreaker failure rate", () => {
  it("opens when the share of failures over the recent calls reaches the rate", () => {
    const breaker = new CircuitBreaker({
      failureThreshold: 100,
      cooldownMs: 1_000,
      failureRate: 0.5,
      rateWindow: 4,
    });
    for (const ok of [true, false, true]) {
      if (ok) breaker.recordSuccess();
      else breaker.recordFailure(0);
    }
    expect(breaker.state).toBe("closed"); // 1 of 3: too few calls to judge
    breaker.recordSuccess();
    expect(breaker.state).toBe("closed"); // 1 of 4 = 25 %
    breaker.recordFailure(5);
    expect(breaker.state).toBe("open"); // the last 4: 2 failures = 50 %
  });

  it("applies transitions decided elsewhere", () => {
    const breaker = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 100 });
    breaker.open(50);
    expect(breaker.tryAcquire(60)).toBe(false);
    breaker.close();
    expect(breaker.tryAcquire(61)).toBe(true);
  });
});
