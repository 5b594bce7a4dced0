#!/usr/bin/env bash
# The project's test command (README and CI run exactly this): install what is missing,
# then lint, type-check, check generated contracts, and run every test against real nats-servers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run lint
npm run typecheck
npm run check:schemas
npm test
