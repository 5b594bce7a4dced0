import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import type { JetStreamManager, StreamConfig } from "@nats-io/jetstream";
import type { EnsureOutcome } from "../kv/ensure-kv-bucket.js";

/**
 * A stream of the service's state created, or brought to the desired replicas, max age, duplicate
 * window and subjects. Retention and storage are set at creation only (a live stream keeps them).
 */
export async function ensureStream(
  jsm: JetStreamManager,
  name: string,
  desired: Partial<StreamConfig> & { subjects: string[] },
  apply: boolean,
): Promise<EnsureOutcome> {
  let current: StreamConfig;
  try {
    current = (await jsm.streams.info(name)).config;
  } catch (error) {
    if (!(error instanceof JetStreamApiError) || error.code !== JetStreamApiCodes.StreamNotFound) throw error;
    if (!apply) return "missing";
    await jsm.streams.add({ name, ...desired });
    return "created";
  }
  const same =
    current.num_replicas === desired.num_replicas &&
    current.max_age === desired.max_age &&
    current.duplicate_window === desired.duplicate_window &&
    current.subjects.length === desired.subjects.length &&
    desired.subjects.every((subject) => current.subjects.includes(subject));
  if (same) return "unchanged";
  if (!apply) return "differs";
  // Retention and storage cannot change on a live stream; the rest can.
  const { retention: _retention, storage: _storage, ...changeable } = desired;
  await jsm.streams.update(name, changeable);
  return "updated";
}
