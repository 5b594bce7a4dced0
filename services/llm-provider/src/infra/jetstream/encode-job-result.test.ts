import { describe, expect, it } from "vitest";
import { encodeJobResult } from "./encode-job-result.js";

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe("encodeJobResult", () => {
  it("writes a float vector as the shortest float32 texts, every other field as JSON", () => {
    const vector = new Float32Array([0.1, -0.012345679, 1e-8, 0]);
    const text = decode(
      encodeJobResult({
        item_id: "doc-1",
        ok: true,
        embedding: vector,
        model: "embed",
        provider_id: "p0",
        cached: false,
      }),
    );
    expect(text).toBe(
      '{"item_id":"doc-1","ok":true,"model":"embed","provider_id":"p0","cached":false,' +
        '"embedding":[0.1,-0.012345679,1e-8,0]}',
    );
    const parsed = JSON.parse(text) as { embedding: number[] };
    expect(Float32Array.from(parsed.embedding)).toEqual(vector);
  });

  it("writes a base64 vector and an error as they are", () => {
    const ok = {
      item_id: "a",
      ok: true as const,
      embedding: "AACAPw==",
      model: "m",
      provider_id: "p",
      cached: true,
    };
    expect(JSON.parse(decode(encodeJobResult(ok)))).toEqual(ok);
    const failed = {
      item_id: "b",
      ok: false as const,
      error: { code: "invalid_request" as const, message: "bad", retryable: false },
    };
    expect(JSON.parse(decode(encodeJobResult(failed)))).toEqual(failed);
  });
});
