// Benchmark of the float32 JSON writer — run on its own (never part of `npm test`/CI):
//   npm run bench:float32-json
//
// Writes embedding vectors (1536 float32 values, like text-embedding-3-small's) as JSON arrays with
// the former encoder, `widenedJson` below (String() of each value widened to a double) and with
// `writeFloat32JsonArray` (shortest round-trip text, ASCII bytes into a reused buffer), alternating
// rounds after a warm-up, checks the new text reads back to the same float32 values, and prints
// ns/value and output bytes/value for each, for two value sets:
//   - "embedding": unit-length vectors of Gaussian components (|v| mostly 1e-4 … 0.1),
//   - "log-uniform": |v| spread evenly over the decades from 1e-6 to 1, random signs.
// Environment: BENCH_ROUNDS, BENCH_ITERATIONS (vector writes per writer per round).
import {
  float32JsonArrayMaxBytes,
  writeFloat32JsonArray,
} from "../../services/llm-provider/src/codecs/float32-json.js";

/** The former reply encoder, kept here as the baseline: exactly JSON.stringify(Array.from(vector)). */
function widenedJson(vector: Float32Array): string {
  let text = "[";
  for (let index = 0; index < vector.length; index++) {
    const value = vector[index]!;
    if (index > 0) text += ",";
    text += Number.isFinite(value) ? String(value) : "null";
  }
  return text + "]";
}

const DIMENSIONS = 1536;
const VECTORS = 16;
const WARMUP_ITERATIONS = 200;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 100);

/** Seeded uniform [0, 1) (mulberry32): the same vectors on every run. */
function uniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), state | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 2 ** 32;
  };
}

function embeddingVectors(seed: number): Float32Array[] {
  const next = uniform(seed);
  return Array.from({ length: VECTORS }, () => {
    const values = Array.from({ length: DIMENSIONS }, () => {
      // Box–Muller: a standard normal component.
      return Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
    });
    const norm = Math.hypot(...values);
    return Float32Array.from(values, (value) => value / norm);
  });
}

function logUniformVectors(seed: number): Float32Array[] {
  const next = uniform(seed);
  return Array.from({ length: VECTORS }, () =>
    Float32Array.from({ length: DIMENSIONS }, () => (next() < 0.5 ? -1 : 1) * 10 ** (-6 * next())),
  );
}

const buffer = new Uint8Array(float32JsonArrayMaxBytes(DIMENSIONS));
let sink = 0; // keeps results alive, so no write is optimised away

function writeOld(vectors: Float32Array[]): void {
  for (const vector of vectors) sink += widenedJson(vector).length;
}

function writeNew(vectors: Float32Array[]): void {
  for (const vector of vectors) sink += writeFloat32JsonArray(vector, buffer, 0);
}

function timeNanos(write: (vectors: Float32Array[]) => void, vectors: Float32Array[]): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < ITERATIONS; i++) write(vectors);
  return Number(process.hrtime.bigint() - started);
}

function check(vectors: Float32Array[]): { oldBytes: number; newBytes: number } {
  let oldBytes = 0;
  let newBytes = 0;
  for (const vector of vectors) {
    oldBytes += Buffer.byteLength(widenedJson(vector));
    const end = writeFloat32JsonArray(vector, buffer, 0);
    newBytes += end;
    const read = Float32Array.from(
      JSON.parse(Buffer.from(buffer.subarray(0, end)).toString("latin1")) as number[],
    );
    if (Buffer.compare(Buffer.from(read.buffer), Buffer.from(vector.buffer)) !== 0) {
      throw new Error("the new writer's text does not read back to the vector");
    }
  }
  return { oldBytes, newBytes };
}

function run(name: string, vectors: Float32Array[]): void {
  const values = vectors.length * DIMENSIONS;
  const { oldBytes, newBytes } = check(vectors);
  for (let i = 0; i < WARMUP_ITERATIONS; i++) {
    writeOld(vectors);
    writeNew(vectors);
  }
  let oldNanos = 0;
  let newNanos = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which goes first, so neither always runs right after a GC of the other's garbage.
    if (round % 2 === 0) {
      oldNanos += timeNanos(writeOld, vectors);
      newNanos += timeNanos(writeNew, vectors);
    } else {
      newNanos += timeNanos(writeNew, vectors);
      oldNanos += timeNanos(writeOld, vectors);
    }
  }
  const perValue = (nanos: number) => (nanos / (ROUNDS * ITERATIONS * values)).toFixed(1);
  console.log(`${name}: ${VECTORS} vectors × ${DIMENSIONS} values`);
  console.log(
    `  widenedJson (String of the double): ${perValue(oldNanos)} ns/value, ${(oldBytes / values).toFixed(2)} bytes/value`,
  );
  console.log(
    `  writeFloat32JsonArray (shortest):     ${perValue(newNanos)} ns/value, ${(newBytes / values).toFixed(2)} bytes/value`,
  );
  console.log(
    `  speed-up: ${(oldNanos / newNanos).toFixed(2)}×, size: ${((100 * newBytes) / oldBytes).toFixed(0)}%`,
  );
}

run("embedding", embeddingVectors(1));
run("log-uniform", logUniformVectors(2));
if (sink === 0) console.log("(nothing written)");
