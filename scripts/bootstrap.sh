#!/usr/bin/env bash
# Everything the demo and the tests need on a fresh Debian/Ubuntu machine
# (as root), idempotent: pnpm, ZooKeeper/etcd/Java via apt, and the
# workspace's dependencies from the lockfile.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

if command -v pnpm >/dev/null; then
  echo "pnpm $(pnpm --version) already installed"
else
  npm install --global --no-fund --no-audit pnpm@12
fi
bash scripts/install-servers.sh
pnpm install --frozen-lockfile
