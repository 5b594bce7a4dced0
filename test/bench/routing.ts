// Benchmark of issue #4 — `npm run bench:routing` (never part of `npm test`/CI).
//
// The cost of the routing and health bookkeeping on the happy path, per request: the circuit
// breaker and RPM/TPM admission (the real KV-backed boards, answering from memory between
// leases), the telemetry decorator (no SDK), the fallback executor with its per-attempt timer, and
// the health recording. The provider is an in-process client that answers at once, so only the
// bookkeeping is measured: each round runs the same loop once with and once without it.
import { ProviderConfigSchema } from "../../services/llm-provider/src/config/schema.js";
import { connect } from "@nats-io/transport-node";
import type { CompleteChat } from "@llm-provider/contracts";
import { pino } from "pino";
import type { ProviderSpec, Target } from "../../services/llm-provider/src/domain/catalog.js";
import { createKvBreakerBoard } from "../../services/llm-provider/src/infra/kv/kv-breaker-board.js";
import { createKvHealthCache } from "../../services/llm-provider/src/infra/kv/kv-health-cache.js";
import {
  createKvRateLimiter,
  RATE_LIMIT_ENTRY_TTL_MS,
} from "../../services/llm-provider/src/infra/kv/kv-rate-limiter.js";
import { ensureKvBucket } from "../../services/llm-provider/src/infra/kv/ensure-kv-bucket.js";
import type {
  ChatCall,
  ChatOutcome,
  ProviderClient,
} from "../../services/llm-provider/src/ports/provider-client.js";
import { executeWithFallback } from "../../services/llm-provider/src/routing/execute-with-fallback.js";
import { guardProviderClient } from "../../services/llm-provider/src/routing/guard-provider-client.js";
import { instrumentProviderClient } from "../../services/llm-provider/src/telemetry/instrument-provider-client.js";
import { startNatsServer } from "../harness/nats-server.js";
import { DEFAULT_MODEL_FEATURES } from "../../services/llm-provider/src/domain/catalog.js";

const ITERATIONS = 50_000;
const ROUNDS = 5;

const provider: ProviderSpec = {
  id: "bench",
  name: "Bench",
  provider_type: "openai",
  endpoint: "http://127.0.0.1:9/v1",
  is_active: true,
  headers: {},
  config: ProviderConfigSchema.parse({
    // Budgets large enough never to run out: the happy path spends leases from memory.
    rpm: 100_000_000,
    tpm: 100_000_000_000,
  }),
};
const target: Target = {
  provider,
  model: {
    model_name: "m",
    provider_id: "bench",
    context_window: 8_192,
    max_tokens: 1_024,
    cost: { input_per_million: 1, output_per_million: 2 },
    features: { ...DEFAULT_MODEL_FEATURES },
  },
};
const outcome: ChatOutcome = {
  upstreamId: "x",
  responseModel: "m",
  content: "hi",
  finishReason: "stop",
  rawFinishReason: "stop",
  usage: { promptTokens: 10, completionTokens: 2 },
  warnings: [],
};
const bare: ProviderClient = { providerId: "bench", completeChat: () => Promise.resolve(outcome) };
const request: CompleteChat = { model: "m", messages: [{ role: "user", content: "Hello there" }] };
const call = (signal: AbortSignal): ChatCall => ({
  upstreamModel: "m",
  modelMaxTokens: 1_024,
  request,
  signal,
});

function cpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

async function measure(run: () => Promise<void>): Promise<number> {
  const before = cpuMicros();
  for (let index = 0; index < ITERATIONS; index++) await run();
  return (cpuMicros() - before) / ITERATIONS;
}

const nats = await startNatsServer();
const nc = await connect({ servers: nats.url });
try {
  const logger = pino({ level: "silent" });
  await ensureKvBucket(nc, { bucket: "bench_breakers", replicas: 1 });
  await ensureKvBucket(nc, { bucket: "bench_rate_limits", replicas: 1, ttlMs: RATE_LIMIT_ENTRY_TTL_MS });
  await ensureKvBucket(nc, { bucket: "bench_health", replicas: 1, ttlMs: 120_000 });
  const breakers = await createKvBreakerBoard({
    nc,
    bucket: "bench_breakers",
    workerId: "bench",
    policy: { failureThreshold: 5, cooldownMs: 30_000 },
    logger,
  });
  const limiter = await createKvRateLimiter({ nc, bucket: "bench_rate_limits", logger });
  const health = await createKvHealthCache({
    nc,
    bucket: "bench_health",
    workerId: "bench",
    windowMs: 60_000,
    flushIntervalMs: 2_000,
    ttlMs: 120_000,
    logger,
  });
  const guarded = guardProviderClient(instrumentProviderClient(bare, provider), provider, {
    breakers,
    limiter,
    inFlight: health,
  });

  const withBookkeeping = async () => {
    const result = await executeWithFallback(
      { targets: [target], deadline: performance.now() + 60_000 },
      (t, signal) => guarded.completeChat(call(signal)),
    );
    health.recordAttempts(result.attempts);
  };
  const direct = async () => {
    await bare.completeChat(call(new AbortController().signal));
  };

  await measure(withBookkeeping); // warm-up (and the first lease)
  await measure(direct);
  const costs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const full = await measure(withBookkeeping);
    const floor = await measure(direct);
    costs.push(full - floor);
  }
  costs.sort((a, b) => a - b);
  const median = costs[Math.floor(costs.length / 2)]!;
  console.log(
    `routing + health bookkeeping, happy path: ${costs.map((c) => c.toFixed(2)).join(" / ")} µs per request`,
  );
  console.log(`median ${median.toFixed(2)} µs   target < 20 µs   ${median < 20 ? "MET" : "MISSED"}`);
  console.log(
    JSON.stringify({ bench: "routing", iterations: ITERATIONS, rounds_us: costs, median_us: median }),
  );
  await health.close();
  await breakers.close();
} finally {
  await nc.close();
  await nats.stop();
}
