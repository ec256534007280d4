#!/usr/bin/env bash
# The demo from a fresh clone: set up what is missing (scripts/bootstrap.sh),
# build, then run packages/cli/demo/demo.sh — three `elect` candidates per
# backend, the leader SIGKILLed, the failover measured, everything cleaned up.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
bash scripts/bootstrap.sh >&2
pnpm build >&2
exec bash packages/cli/demo/demo.sh
