#!/usr/bin/env bash
# The suite on each supported Node line other than the one running the main
# passes: the oldest supported release (the engines field's floor), the
# newest 22 and the newest 24 at the time of writing. Per version: the unit
# tests (core with its in-memory backend and conformance run, metrics, the
# CLI's unit tests) and one integration pass per backend (the zk and etcd
# packages against real servers, run as local processes).
#
#   scripts/test-node-versions.sh                 # 20.19.0 22.23.5 24.22.3
#   scripts/test-node-versions.sh 24.22.3         # one of them
#
# The binaries come from the npm registry through scripts/fetch-node.sh (kept
# in ELECT_NODE_CACHE, default /var/cache/elect-node).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

versions=("$@")
((${#versions[@]} > 0)) || versions=(20.19.0 22.23.5 24.22.3)
status=0
for version in "${versions[@]}"; do
  bin=$(bash scripts/fetch-node.sh "$version")
  echo
  echo "--- Node $("$bin/node" --version)"
  # jest's workers and every process a test spawns run on process.execPath:
  # this Node, throughout.
  jest() { PATH="$bin:$PATH" ELECT_TEST_RUNTIME=process NODE_OPTIONS=--experimental-vm-modules "$bin/node" node_modules/jest/bin/jest.js "$@"; }
  jest --selectProjects packages/core packages/metrics packages/zk packages/etcd || status=1
  jest --selectProjects packages/cli --testPathPatterns 'test/unit/' || status=1
done
exit $status
