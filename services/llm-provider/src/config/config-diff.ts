import type { LiveSections } from "./live-sections.js";

/** One entry of a live section added, removed, or changed (with each changed field). */
export interface ConfigChange {
  change: "added" | "removed" | "changed";
  section: keyof LiveSections;
  id: string;
  /**
   * For `changed`: every leaf field that differs, as a dotted path, with its value before and after;
   * `source: "catalogue"` when the new value is the model catalogue's (the entry leaves it out).
   */
  fields?: { path: string; before: unknown; after: unknown; source?: "catalogue" }[];
}

const ID_OF: { [S in keyof LiveSections]: (entry: LiveSections[S][number]) => string } = {
  providers: (provider) => provider.id,
  models: (model) => model.model_name,
  fallback_chains: (chain) => chain.id,
};

/**
 * What writing `after` over `before` (nothing stored: undefined) changes, section by section, in file
 * order. Both are resolved values (the catalogue's included), so a price the catalogue changed
 * between versions shows; `fromCatalogue` (model name → paths) marks the values it supplies to `after`.
 */
export function diffLiveSections(
  before: LiveSections | undefined,
  after: LiveSections,
  fromCatalogue: ReadonlyMap<string, ReadonlySet<string>> = new Map(),
): ConfigChange[] {
  const changes: ConfigChange[] = [];
  for (const section of Object.keys(ID_OF) as (keyof LiveSections)[]) {
    const idOf = ID_OF[section] as (entry: unknown) => string;
    const old = byId(before?.[section] ?? [], idOf);
    const next = byId(after[section], idOf);
    for (const [id, entry] of next) {
      const previous = old.get(id);
      if (previous === undefined) {
        changes.push({ change: "added", section, id });
        continue;
      }
      const supplied = section === "models" ? fromCatalogue.get(id) : undefined;
      const fields = leafDifferences(previous, entry).map((field) =>
        supplied?.has(field.path) ? { ...field, source: "catalogue" as const } : field,
      );
      if (fields.length > 0) changes.push({ change: "changed", section, id, fields });
    }
    for (const id of old.keys()) if (!next.has(id)) changes.push({ change: "removed", section, id });
  }
  return changes;
}

/**
 * Entries by id. A model's later entries (its other deployments) repeat its name: they are told
 * apart by provider, `<model>@<provider>`, while its first entry keeps the bare name.
 */
function byId(entries: readonly unknown[], idOf: (entry: unknown) => string): Map<string, unknown> {
  const map = new Map<string, unknown>();
  for (const entry of entries) {
    const id = idOf(entry);
    const provider = (entry as { provider_id?: unknown }).provider_id;
    map.set(map.has(id) && typeof provider === "string" ? `${id}@${provider}` : id, entry);
  }
  return map;
}

/** The dotted paths under which `a` and `b` differ (lists compared whole). */
function leafDifferences(
  a: unknown,
  b: unknown,
  path = "",
): { path: string; before: unknown; after: unknown }[] {
  if (isRecord(a) && isRecord(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((key) => leafDifferences(a[key], b[key], path === "" ? key : `${path}.${key}`));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [{ path, before: a, after: b }];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The changes as the CLI prints them: `+ models gpt-4o`, then for a changed entry one line per field,
 * `    cost.input_per_million: 2.5 → 2.75 (catalogue)` when the catalogue supplies the new value.
 */
export function formatConfigChanges(changes: readonly ConfigChange[]): string {
  if (changes.length === 0) return "no changes\n";
  const sign = { added: "+", removed: "-", changed: "~" } as const;
  return changes
    .map((change) => {
      const head = `${sign[change.change]} ${change.section} ${change.id}`;
      const fields = (change.fields ?? []).map(
        (field) =>
          `    ${field.path}: ${show(field.before)} → ${show(field.after)}${field.source ? ` (${field.source})` : ""}`,
      );
      return [head, ...fields].join("\n");
    })
    .join("\n")
    .concat("\n");
}

function show(value: unknown): string {
  return value === undefined ? "(unset)" : JSON.stringify(value);
}
