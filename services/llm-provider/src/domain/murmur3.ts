/**
 * MurmurHash3 x86 128-bit (seed 0) over bytes, as 32 hex digits in the order of murmurhash3js's
 * `x86.hash128` (h1…h4, each big-endian; the C reference writes the words' bytes little-endian).
 * Not a cryptographic hash: for ids that must be stable and well spread, where a SHA-256 (a
 * native call into OpenSSL) cost several µs per event on the hot path.
 */
export function murmur3Hex128(bytes: Uint8Array, length = bytes.length): string {
  let h1 = 0;
  let h2 = 0;
  let h3 = 0;
  let h4 = 0;
  const blocks = length - (length & 15);
  for (let i = 0; i < blocks; i += 16) {
    h1 ^= mixK1(word(bytes, i));
    h1 = (Math.imul((rotl(h1, 19) + h2) | 0, 5) + 0x561ccd1b) | 0;
    h2 ^= mixK2(word(bytes, i + 4));
    h2 = (Math.imul((rotl(h2, 17) + h3) | 0, 5) + 0x0bcaa747) | 0;
    h3 ^= mixK3(word(bytes, i + 8));
    h3 = (Math.imul((rotl(h3, 15) + h4) | 0, 5) + 0x96cd1c35) | 0;
    h4 ^= mixK4(word(bytes, i + 12));
    h4 = (Math.imul((rotl(h4, 13) + h1) | 0, 5) + 0x32ac3b17) | 0;
  }
  const tail = length & 15;
  if (tail > 12) h4 ^= mixK4(partialWord(bytes, blocks + 12, tail - 12));
  if (tail > 8) h3 ^= mixK3(partialWord(bytes, blocks + 8, Math.min(tail - 8, 4)));
  if (tail > 4) h2 ^= mixK2(partialWord(bytes, blocks + 4, Math.min(tail - 4, 4)));
  if (tail > 0) h1 ^= mixK1(partialWord(bytes, blocks, Math.min(tail, 4)));
  h1 ^= length;
  h2 ^= length;
  h3 ^= length;
  h4 ^= length;
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h3 = fmix(h3);
  h4 = fmix(h4);
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  putHex(h1, 0);
  putHex(h2, 8);
  putHex(h3, 16);
  putHex(h4, 24);
  // One flat string from the digits: `toString(16)` on values above 2^31 is a slow path.
  return String.fromCharCode.apply(null, hexCodes);
}

const C1 = 0x239b961b;
const C2 = 0xab0e9789;
const C3 = 0x38b34ae5;
const C4 = 0xa1e38b93;

const mixK1 = (k: number) => Math.imul(rotl(Math.imul(k, C1), 15), C2);
const mixK2 = (k: number) => Math.imul(rotl(Math.imul(k, C2), 16), C3);
const mixK3 = (k: number) => Math.imul(rotl(Math.imul(k, C3), 17), C4);
const mixK4 = (k: number) => Math.imul(rotl(Math.imul(k, C4), 18), C1);

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

/** Little-endian 32-bit word at `at`. */
function word(bytes: Uint8Array, at: number): number {
  return bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24);
}

/** The first `count` (1–4) bytes at `at` as a little-endian word. */
function partialWord(bytes: Uint8Array, at: number, count: number): number {
  let k = 0;
  for (let index = count - 1; index >= 0; index--) k = (k << 8) | bytes[at + index]!;
  return k;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

const HEX_DIGITS = Array.from("0123456789abcdef", (digit) => digit.charCodeAt(0));
/** The output's 32 character codes, rewritten by each call (synchronous). */
const hexCodes: number[] = new Array<number>(32).fill(0);

/** `h` as 8 hex digits (big-endian) at `at` in hexCodes. */
function putHex(h: number, at: number): void {
  for (let index = at + 7; index >= at; index--) {
    hexCodes[index] = HEX_DIGITS[h & 15]!;
    h >>>= 4;
  }
}
