// Benchmark of issue #3 — `npm run bench:streaming` (never part of `npm test`/CI).
//
// What streaming through the service adds per chunk over reading the same stream from the
// upstream directly. The fake upstream (its own process) streams an answer of CHUNKS words; the
// bench reads it (a) straight over HTTP with undici, parsing the SSE, and (b) through
// `llm-provider.cmd.stream_chat` with requestMany + the sentinel strategy, sequentially, and
// prints the median time per stream of each, the difference per chunk, and the service's CPU
// per chunk.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { connect } from "@nats-io/transport-node";
import { SERVICE_NAME, SUBJECTS } from "@llm-provider/contracts";
import { request as httpRequest } from "undici";
import { startNatsServer } from "../harness/nats-server.js";
import { spawnNode } from "./child-process.js";
import { BENCH_MODEL, UPSTREAM_MODEL } from "./payloads.js";
import { processCpuMicros } from "./proc-stats.js";
import {
  benchServiceConfig,
  serviceEnvironment,
  serviceNodeFlags,
  writeServiceConfig,
} from "./service-config.js";

const CHUNKS = 200;
const STREAMS = 150;
const root = fileURLToPath(new URL("../..", import.meta.url));
const prompt = Array.from({ length: CHUNKS - 1 }, (_, index) => `w${index}`).join(" "); // echo: + words

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const workDir = await mkdtemp(join(tmpdir(), "llm-provider-bench-stream-"));
const nats = await startNatsServer();
const upstream = spawnNode("upstream", ["--import", "tsx", "test/bench/fake-upstream-process.ts"], {
  cwd: root,
});
try {
  const { baseUrl } = JSON.parse(await upstream.firstLine) as { baseUrl: string };
  const configPath = await writeServiceConfig(workDir, benchServiceConfig(nats.url, baseUrl));
  const service = spawnNode(
    "service",
    [...serviceNodeFlags(), "services/llm-provider/dist/main.js", "--config", configPath],
    {
      cwd: root,
      env: serviceEnvironment(),
    },
  );
  const nc = await connect({ servers: nats.url });
  try {
    for (let attempt = 0; attempt < 100; attempt++) {
      if (await nc.request(`$SRV.PING.${SERVICE_NAME}`, "", { timeout: 200 }).catch(() => undefined)) break;
      await sleep(100);
    }
    const body = { model: BENCH_MODEL, messages: [{ role: "user", content: prompt }] };
    const upstreamBody = JSON.stringify({
      model: UPSTREAM_MODEL,
      messages: body.messages,
      stream: true,
      stream_options: { include_usage: true },
    });

    async function direct(): Promise<number> {
      const started = performance.now();
      const response = await httpRequest(`${baseUrl}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer x" },
        body: upstreamBody,
      });
      let pieces = 0;
      let buffered = "";
      for await (const chunk of response.body) {
        buffered += (chunk as Buffer).toString();
        let end: number;
        while ((end = buffered.indexOf("\n\n")) !== -1) {
          const event = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          if (event.startsWith("data: {")) {
            const parsed = JSON.parse(event.slice(6)) as { choices: Array<{ delta?: { content?: string } }> };
            if (parsed.choices[0]?.delta?.content) pieces++;
          }
        }
      }
      if (pieces < CHUNKS - 1) throw new Error(`upstream streamed ${pieces} pieces`);
      return performance.now() - started;
    }

    async function throughService(): Promise<number> {
      const started = performance.now();
      const replies = await nc.requestMany(SUBJECTS.streamChat, JSON.stringify(body), {
        strategy: "sentinel",
        maxWait: 30_000,
      });
      let chunks = 0;
      let done = false;
      for await (const msg of replies) {
        if (msg.data.length === 0) break;
        const message = msg.json<{ type: string }>();
        if (message.type === "chunk") chunks++;
        else if (message.type === "done") done = true;
        else throw new Error(`stream failed: ${msg.string()}`);
      }
      if (!done || chunks < CHUNKS - 1) throw new Error(`service streamed ${chunks} chunks, done=${done}`);
      return performance.now() - started;
    }

    for (let index = 0; index < 20; index++) {
      await direct(); // warm-up
      await throughService();
    }
    const directTimes: number[] = [];
    const serviceTimes: number[] = [];
    const cpuBefore = processCpuMicros(service.pid);
    for (let index = 0; index < STREAMS; index++) serviceTimes.push(await throughService());
    const serviceCpu = (processCpuMicros(service.pid) - cpuBefore) / STREAMS;
    for (let index = 0; index < STREAMS; index++) directTimes.push(await direct());

    const perChunkMs = (median(serviceTimes) - median(directTimes)) / CHUNKS;
    console.log(`stream of ${CHUNKS} chunks, ${STREAMS} streams each, sequential`);
    console.log(
      `upstream read directly (SSE over HTTP): median ${median(directTimes).toFixed(3)} ms per stream`,
    );
    console.log(
      `through llm-provider (NATS stream_chat): median ${median(serviceTimes).toFixed(3)} ms per stream`,
    );
    console.log(
      `added per chunk: ${(perChunkMs * 1000).toFixed(1)} µs   target ≤ 100 µs   ${perChunkMs <= 0.1 ? "MET" : "MISSED"}`,
    );
    console.log(
      `service CPU per chunk: ${(serviceCpu / CHUNKS).toFixed(1)} µs (${serviceCpu.toFixed(0)} µs per stream)`,
    );
    console.log(
      JSON.stringify({
        bench: "streaming",
        chunks: CHUNKS,
        streams: STREAMS,
        direct_ms: median(directTimes),
        service_ms: median(serviceTimes),
        added_us_per_chunk: perChunkMs * 1000,
        service_cpu_us_per_chunk: serviceCpu / CHUNKS,
      }),
    );
  } finally {
    await nc.close();
    await service.stop();
  }
} finally {
  await upstream.stop();
  await nats.stop();
  await rm(workDir, { recursive: true, force: true });
}
