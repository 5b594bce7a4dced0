import type { Msg } from "@nats-io/nats-core";

/** How every successful JetStream publish ack starts: nats-server writes an error, if any, first. */
const ACK_PREFIX = new TextEncoder().encode('{"stream":"');
const SEQ_FIELD = new TextEncoder().encode('"seq":');

/**
 * The stream sequence of a plain successful publish ack, read from its bytes without decoding and
 * parsing the JSON; undefined for anything else (an error, a status, something unexpected), which
 * the caller then reads the slow way. Acks come by the hundred per batch and per event burst.
 */
export function plainAckSequence(msg: Msg): number | undefined {
  const data = msg.data;
  if (msg.headers !== undefined || data.length <= ACK_PREFIX.length) return undefined;
  for (let index = 0; index < ACK_PREFIX.length; index++)
    if (data[index] !== ACK_PREFIX[index]) return undefined;
  const at = Buffer.from(data.buffer, data.byteOffset, data.byteLength).indexOf(SEQ_FIELD);
  if (at < 0) return undefined;
  let sequence = 0;
  let index = at + SEQ_FIELD.length;
  const first = index;
  for (; index < data.length && data[index]! >= 0x30 && data[index]! <= 0x39; index++)
    sequence = sequence * 10 + data[index]! - 0x30;
  return index > first && index - first < 16 ? sequence : undefined;
}
