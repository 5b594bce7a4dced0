import type { ProviderBatchRecord } from "../domain/provider-batch-jobs.js";

/**
 * Port to the records of submitted provider batches, shared by every worker. Changes are
 * compare-and-set, so that two pollers never both hold one batch.
 */
export interface ProviderBatchStore {
  create(record: ProviderBatchRecord): Promise<void>;
  /** The keys of every record (`providerBatchKey`). */
  keys(): Promise<string[]>;
  /**
   * Applies `change` to the current record when it returns one and nobody changed the record
   * meanwhile; the record written, or undefined (declined, changed by another worker, or gone).
   */
  change(
    key: string,
    change: (current: ProviderBatchRecord) => ProviderBatchRecord | undefined,
  ): Promise<ProviderBatchRecord | undefined>;
  remove(key: string): Promise<void>;
}
