import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";

const CONFLICT_CODES = new Set<number>([
  JetStreamApiCodes.StreamWrongLastSequence,
  JetStreamApiCodes.StreamWrongLastSequenceUnknown,
]);

/** A compare-and-set write lost to another write of the same key (`kv.create`, `kv.update`, a CAS delete). */
export function isRevisionConflict(error: unknown): boolean {
  return error instanceof JetStreamApiError && CONFLICT_CODES.has(error.code);
}
