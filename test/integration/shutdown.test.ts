import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeOpenAIServer } from "../fakes/openai-server.js";
import type { FakeOpenAIServer } from "../fakes/openai-server.js";
import { startNatsServer } from "../harness/nats-server.js";
import type { NatsServerHandle } from "../harness/nats-server.js";
import { waitForEvents } from "../support/events.js";
import { startTestService, testConfig } from "../support/service.js";

let nats: NatsServerHandle;
let upstream: FakeOpenAIServer;

beforeAll(async () => {
  nats = await startNatsServer();
  upstream = await startFakeOpenAIServer();
});

afterAll(async () => {
  await upstream?.close();
  await nats?.stop();
});

describe("shutdown", () => {
  it("gives buffered events one flush window, then logs those JetStream never took", async () => {
    const service = await startTestService(testConfig(nats.url, [upstream.baseUrl]));
    try {
      const request = { model: "model-0", messages: [{ role: "user" as const, content: "hi" }] };
      await service.client.completeChat(request, { requestId: "stop-before" });
      await waitForEvents(service.nc, (events) => events.length === 1); // that one made it
      // The stream goes away: the next event is refused (no responders) and retried.
      await (await jetstreamManager(service.nc)).streams.delete("LLM_PROVIDER_EVENTS");
      const completion = await service.client.completeChat(request, { requestId: "stop-after" });
      expect(completion.content).toBeTruthy(); // the reply never waits on JetStream

      const graceMs = 1_500;
      const started = performance.now();
      await service.app.stop(graceMs);
      const tookMs = performance.now() - started;
      // Nothing was in flight: the flushes got the grace, side by side, and no more.
      expect(tookMs).toBeGreaterThanOrEqual(graceMs - 100);
      expect(tookMs).toBeLessThan(graceMs + 1_500);
      const lost = service.logs
        .map((line) => JSON.parse(line) as { msg?: string; level?: number; events_left?: number })
        .find((entry) => entry.msg === "events not acknowledged at shutdown");
      expect(lost).toMatchObject({ level: 50, events_left: 1 });
    } finally {
      await service.stop();
    }
  });
});
