#!/usr/bin/env bash
# Installs what the project needs on a Debian machine, and only what is missing:
# nats-server (Debian package) and the npm dependencies. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_major=20 need_minor=18
version=$(node -p 'process.versions.node' 2>/dev/null || echo 0.0.0)
major=${version%%.*}; rest=${version#*.}; minor=${rest%%.*}
if (( major < need_major || (major == need_major && minor < need_minor) )); then
  echo "setup: Node.js >= ${need_major}.${need_minor} is required (found ${version}); install Node 20 or 22 LTS first." >&2
  exit 1
fi

if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
  echo "setup: installing nats-server (Debian package)"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq nats-server >/dev/null
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
