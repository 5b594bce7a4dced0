/** A batch with identical inputs folded together: each text is embedded (and looked up) once. */
export interface DedupedInputs {
  /** The distinct inputs, in order of first appearance. */
  texts: string[];
  /** Their keys, parallel to `texts`. */
  keys: string[];
  /** For every input position of the request, the index of its distinct input. */
  positions: number[];
}

/** Folds inputs with the same key (same text, same scope) together, keeping first-seen order. */
export function dedupeEmbeddingInputs(inputs: readonly string[], keys: readonly string[]): DedupedInputs {
  const byKey = new Map<string, number>();
  const deduped: DedupedInputs = { texts: [], keys: [], positions: [] };
  for (let position = 0; position < inputs.length; position++) {
    const key = keys[position]!;
    let index = byKey.get(key);
    if (index === undefined) {
      index = deduped.texts.length;
      byKey.set(key, index);
      deduped.texts.push(inputs[position]!);
      deduped.keys.push(key);
    }
    deduped.positions.push(index);
  }
  return deduped;
}

/** Consecutive slices of at most `size` items: the calls one upstream batch limit allows. */
export function splitIntoBatches<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`batch size must be a positive integer, got ${size}`);
  const batches: T[][] = [];
  for (let start = 0; start < items.length; start += size) batches.push(items.slice(start, start + size));
  return batches;
}

/** Rough token count of texts before the provider has counted (~4 characters per token). */
export function estimateEmbeddingTokens(inputs: readonly string[]): number {
  let characters = 0;
  for (const input of inputs) characters += input.length;
  return Math.ceil(characters / 4);
}
