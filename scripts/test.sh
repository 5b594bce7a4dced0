#!/usr/bin/env bash
# The project's test command (README and CI run exactly this): install what is missing, then
# lint, format check, type check, build (the production compile, as the image does), check the
# generated contracts, and run every test against real nats-servers — on this machine's Node and,
# when that is not Node 22 (production), on Node 22 too.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run lint
npm run format:check
npm run typecheck
npm run build
npm run check:schemas

results=.cache/vitest-results.json
mkdir -p .cache
# Prints the plain summary line ("N passed, N failed") from vitest's JSON report.
summarize() { node -e 'const r=require(process.argv[1]);console.log(`${process.argv[2]}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`)' "$PWD/$results" "$1"; }

npx vitest run --reporter=default --reporter=json --outputFile.json="$results"
summarize "node$(node -p 'process.versions.node.split(".")[0]')"
if [ "$(node -p 'process.versions.node.split(".")[0]')" != "22" ] && [ "${SKIP_NODE22:-0}" != "1" ]; then
  node22=$(bash scripts/node22.sh)
  echo "Running the test suite again on Node $("$node22" --version) (the production runtime)"
  "$node22" node_modules/vitest/vitest.mjs run --reporter=default --reporter=json --outputFile.json="$results"
  summarize node22
fi
