import type { Msg } from "@nats-io/nats-core";
import { describe, expect, it } from "vitest";
import { plainAckSequence } from "./jetstream-ack.js";

const msg = (text: string, headers?: object): Msg =>
  ({ data: new TextEncoder().encode(text), headers }) as unknown as Msg;

describe("plainAckSequence", () => {
  it("reads the sequence of the acks nats-server writes", () => {
    expect(plainAckSequence(msg('{"stream":"KV_cache","seq":123}'))).toBe(123);
    expect(plainAckSequence(msg('{"stream":"EVENTS","domain":"hub","seq":9007199254740}'))).toBe(
      9007199254740,
    );
    expect(plainAckSequence(msg('{"stream":"EVENTS","seq":7,"duplicate":true}'))).toBe(7);
  });

  it("leaves everything else to the slow path", () => {
    expect(
      plainAckSequence(msg('{"error":{"code":400,"err_code":10071,"description":"wrong last sequence"}}')),
    ).toBeUndefined();
    expect(plainAckSequence(msg('{"stream":"EVENTS","seq":1}', { code: 503 }))).toBeUndefined();
    expect(plainAckSequence(msg('{"stream":"EVENTS"}'))).toBeUndefined();
    expect(plainAckSequence(msg('{"stream":"EVENTS","seq":"x"}'))).toBeUndefined();
    expect(plainAckSequence(msg(""))).toBeUndefined();
  });
});
