#!/usr/bin/env bash
# Starts llm-provider with the development config (see scripts/dev.ts for what it does).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node --import tsx --conditions=source scripts/dev.ts "$@"
