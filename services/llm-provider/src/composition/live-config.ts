import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "pino";
import { ConfigError } from "../config/load-config.js";
import { withLiveSections } from "../config/live-sections.js";
import type { Config } from "../config/schema.js";
import { createKvLiveConfigStore } from "../infra/kv/kv-live-config.js";
import type { LiveConfigStore } from "../infra/kv/kv-live-config.js";
import { withinMs } from "../shared/within-ms.js";

/** A configuration a worker runs on: its file alone (revision undefined) or with a stored revision. */
export interface ConfigSnapshot {
  config: Config;
  revision: number | undefined;
}

export interface LiveConfigFollower {
  /** Stops reading; a read under way is let finish and ignored. */
  stop(): void;
}

/** How long the start-up read may take before the worker goes on with its file. */
const START_READ_TIMEOUT_MS = 2_000;

/**
 * The configuration to start with: the stored live sections over the file when KV answers, the
 * file alone when it does not (or nothing was applied yet, or what is stored does not fit).
 */
export async function initialSnapshot(
  store: LiveConfigStore,
  base: Config,
  logger: Logger,
): Promise<ConfigSnapshot> {
  try {
    const answer = await withinMs(
      store.read().then((stored) => ({ stored })),
      START_READ_TIMEOUT_MS,
    );
    if (answer === undefined) throw new Error(`no answer within ${START_READ_TIMEOUT_MS} ms`);
    const { stored } = answer;
    if (stored === undefined) return { config: base, revision: undefined };
    return {
      config: withLiveSections(base, stored.sections, `kv revision ${stored.revision}`),
      revision: stored.revision,
    };
  } catch (error) {
    logger.warn({ err: describe(error) }, "live configuration not read at start; serving the file's");
    return { config: base, revision: undefined };
  }
}

/**
 * Reads the stored revision every `poll_interval_ms` (a direct get: no consumer to lose in a node
 * failure, decision 0006) and hands each new, valid one to `swap`. A revision that does not
 * validate here, or that `swap` refuses, is logged and skipped: the worker keeps its snapshot.
 */
export function followLiveConfig(options: {
  store: LiveConfigStore;
  base: Config;
  current: () => number | undefined;
  swap: (snapshot: ConfigSnapshot) => void;
  logger: Logger;
}): LiveConfigFollower {
  const { store, base, logger } = options;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  /** The last revision refused, so that it is logged once, not every poll. */
  let refused: number | undefined;
  const poll = async () => {
    try {
      const stored = await store.read();
      if (stopped || stored === undefined) return;
      if (stored.revision === options.current() || stored.revision === refused) return;
      try {
        const config = withLiveSections(base, stored.sections, `kv revision ${stored.revision}`);
        options.swap({ config, revision: stored.revision });
      } catch (error) {
        refused = stored.revision;
        logger.error(
          { config_revision: stored.revision, err: describe(error) },
          "live configuration revision refused; keeping the one in force",
        );
      }
    } catch (error) {
      logger.debug({ err: describe(error) }, "live configuration not read");
    } finally {
      if (!stopped) timer = setTimeout(() => void poll(), base.live_config.poll_interval_ms).unref();
    }
  };
  timer = setTimeout(() => void poll(), base.live_config.poll_interval_ms).unref();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** The store of a worker's configured bucket. */
export function liveConfigStoreOf(nc: NatsConnection, config: Config): LiveConfigStore {
  return createKvLiveConfigStore(nc, { bucket: config.live_config.bucket, timeoutMs: START_READ_TIMEOUT_MS });
}

function describe(error: unknown): string {
  return error instanceof ConfigError || error instanceof Error ? error.message : String(error);
}
