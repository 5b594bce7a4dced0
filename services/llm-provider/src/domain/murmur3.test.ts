import { describe, expect, it } from "vitest";
import { murmur3Hex128 } from "./murmur3.js";

const encoder = new TextEncoder();
const BASE = "llm-provider.chat_completed.v1\0";

// From the reference JavaScript implementation (murmurhash3js-revisited 3.0.0, x86.hash128).
const PREFIXES: string[] = [
  "00000000000000000000000000000000",
  "9f6cf0aac6879556c6879556c6879556",
  "c95b31c827fe229c27fe229c27fe229c",
  "dc910f037d7259237d7259237d725923",
  "a59dc1ccf48de4baf48de4baf48de4ba",
  "464aa6d47112881cf2a50b0ff2a50b0f",
  "1d91c056714e276f078aa268078aa268",
  "aa773ba026624da245750c9545750c95",
  "8c174f8f08c215786abbb62f6abbb62f",
  "3fbe2add613caeb14e697191b3935bf3",
  "996b699a909b67853796d00eca2ccfa6",
  "1dec39cff6cea7461ba084d25abc357b",
  "c32049eb221abf6555abf793f519d5a7",
  "f36d0202a4dffad9902bace2ba6b1dda",
  "6ab314c5e320bac60e80c2b975c15429",
  "15da32b3ef43fdb4adf09c86db794fd1",
  "30f7e0293d124371acbab7e86f551a26",
  "856db6edb5b3a1c3a4fe3770bd610840",
  "23db72e72fa11c2578b952bf15bf1da2",
  "55aed051119ff2c1eb22f60147d4e3ab",
  "870a83cfd1c575ba17f080e3ae1be221",
  "67e6c139342eecc5a809567e331c9e7e",
  "ac75c85ae3b88f2d15cad81e38c7c2bb",
  "fe569c7fa9ed0f282284f657b03a4cf9",
  "bbf828084fbba73d2cd5fc19c18e8887",
  "f4dbfa9c7afd66d34c32204d7c1969ca",
  "110e59bd100c95eeb5f6223dcb4f3e6b",
  "40f3137a234aa6b1aeffcd558aeab51b",
  "c7fd705e20ad3b7a20b8d0cd51a7af76",
  "98938441ee06262f266eb96e9061d679",
  "6da7d058a637920031bab244f9bbc7fb",
  "94bf3d0a31b68d975d4f173eecfd1c3b",
];

describe("murmur3Hex128", () => {
  it("matches the reference for every tail length and whole blocks", () => {
    PREFIXES.forEach((expected, length) =>
      expect(murmur3Hex128(encoder.encode(BASE.slice(0, length))), `length ${length}`).toBe(expected),
    );
    expect(murmur3Hex128(encoder.encode(`${BASE}${"r".repeat(300)}`))).toBe(
      "b308b54dff5a3122fd1d4d78e9ff3252",
    );
    expect(murmur3Hex128(encoder.encode("héllo wörld — ✓ 𝄞"))).toBe("bd8e5f40f8f90004aa239dd4dcc9dccb");
  });

  it("hashes only the first `length` bytes of a larger buffer", () => {
    const scratch = new Uint8Array(64).fill(0xff);
    const { written } = encoder.encodeInto(BASE, scratch);
    expect(murmur3Hex128(scratch, written)).toBe(PREFIXES[31]);
  });
});
