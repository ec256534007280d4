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
# The binaries come from the npm registry (the `node-linux-<arch>` packages
# the registry's `node` package installs) and are kept in ELECT_NODE_CACHE
# (default /var/cache/elect-node), so a second run downloads nothing.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

versions=("$@")
((${#versions[@]} > 0)) || versions=(20.19.0 22.23.5 24.22.3)
cache=${ELECT_NODE_CACHE:-/var/cache/elect-node}
case $(uname -m) in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "test-node-versions: no Node package for $(uname -m)" >&2; exit 2 ;;
esac

# Prints the directory holding `node` for version $1, fetching it if needed.
node_dir() {
  local version=$1 dir=$cache/$1 tmp
  if [[ ! -x $dir/bin/node ]]; then
    mkdir -p "$cache"
    tmp=$(mktemp -d "$cache/fetch.XXXXXX")
    (cd "$tmp" && npm pack --silent --loglevel=error "node-$(uname -s | tr 'A-Z' 'a-z')-$arch@$version" >/dev/null)
    tar -xzf "$tmp"/*.tgz -C "$tmp"
    rm -rf "$dir"
    mv "$tmp/package" "$dir"
    rm -rf "$tmp"
  fi
  echo "$dir/bin"
}

status=0
for version in "${versions[@]}"; do
  bin=$(node_dir "$version")
  echo
  echo "--- Node $("$bin/node" --version)"
  # jest's workers and every process a test spawns run on process.execPath:
  # this Node, throughout.
  jest() { PATH="$bin:$PATH" ELECT_TEST_RUNTIME=process NODE_OPTIONS=--experimental-vm-modules "$bin/node" node_modules/jest/bin/jest.js "$@"; }
  jest --selectProjects packages/core packages/metrics packages/zk packages/etcd || status=1
  jest --selectProjects packages/cli --testPathPatterns 'test/unit/' || status=1
done
exit $status
