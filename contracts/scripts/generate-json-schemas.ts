/**
 * Writes the JSON Schema file of every wire message into `contracts/schemas/`, from the zod schemas.
 *
 *   node --import tsx --conditions=source contracts/scripts/generate-json-schemas.ts           # write
 *   node --import tsx --conditions=source contracts/scripts/generate-json-schemas.ts --check   # CI: exit 1 on drift
 *
 * Stale `*.json` files (no longer generated) are deleted on write and reported by `--check`.
 */
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { renderJsonSchemas } from "../src/json-schemas.js";

const SCHEMAS_DIR = fileURLToPath(new URL("../schemas/", import.meta.url));

async function existingJsonFiles(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  let names: string[];
  try {
    names = await readdir(SCHEMAS_DIR);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return files;
    throw error;
  }
  for (const name of names.filter((n) => n.endsWith(".json")).sort()) {
    files.set(name, await readFile(join(SCHEMAS_DIR, name), "utf8"));
  }
  return files;
}

async function main(argv: readonly string[]): Promise<number> {
  const unknown = argv.filter((arg) => arg !== "--check");
  if (unknown.length > 0) {
    console.error(`unknown argument(s): ${unknown.join(" ")}\nusage: generate-json-schemas.ts [--check]`);
    return 2;
  }
  const expected = renderJsonSchemas();
  const existing = await existingJsonFiles();

  if (argv.includes("--check")) {
    const problems: string[] = [];
    for (const [name, text] of expected) {
      const current = existing.get(name);
      if (current === undefined) problems.push(`  missing: schemas/${name}`);
      else if (current !== text) problems.push(`  differs: schemas/${name}`);
    }
    for (const name of existing.keys()) {
      if (!expected.has(name)) problems.push(`  stale:   schemas/${name}`);
    }
    if (problems.length > 0) {
      console.error(
        `contracts/schemas is out of date with the zod schemas:\n${problems.join("\n")}\nrun: npm run gen:schemas`,
      );
      return 1;
    }
    console.log(`contracts/schemas is up to date (${expected.size} files)`);
    return 0;
  }

  await mkdir(SCHEMAS_DIR, { recursive: true });
  let written = 0;
  for (const [name, text] of expected) {
    if (existing.get(name) === text) continue;
    await writeFile(join(SCHEMAS_DIR, name), text, "utf8");
    written += 1;
    console.log(`wrote   schemas/${name}`);
  }
  for (const name of existing.keys()) {
    if (expected.has(name)) continue;
    await rm(join(SCHEMAS_DIR, name));
    console.log(`deleted schemas/${name} (no longer generated)`);
  }
  console.log(`${expected.size} JSON Schema files in contracts/schemas (${written} changed)`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
