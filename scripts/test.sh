#!/usr/bin/env bash
# The project's test command (README and CI run exactly this): install what is missing, then
# lint, format check, type check, check the generated contracts, and run every test against real
# nats-servers — on this machine's Node and, when that is not Node 22 (production), on Node 22 too.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run lint
npm run format:check
npm run typecheck
npm run check:schemas
npm test
if [ "$(node -p 'process.versions.node.split(".")[0]')" != "22" ] && [ "${SKIP_NODE22:-0}" != "1" ]; then
  node22=$(bash scripts/node22.sh)
  echo "Running the test suite again on Node $("$node22" --version) (the production runtime)"
  "$node22" node_modules/vitest/vitest.mjs run
fi
