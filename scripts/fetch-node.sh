#!/usr/bin/env bash
# Prints the directory holding the `node` binary of Node VERSION, fetching it
# first if needed from the npm registry: the `node-linux-<arch>` packages the
# registry's `node` package installs hold the official binaries. Kept in
# ELECT_NODE_CACHE (default /var/cache/elect-node): a second call downloads
# nothing.
#
#   scripts/fetch-node.sh 24.22.3      # → /var/cache/elect-node/24.22.3/bin
set -euo pipefail

version=${1:?usage: fetch-node.sh VERSION}
cache=${ELECT_NODE_CACHE:-/var/cache/elect-node}
case $(uname -m) in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "fetch-node: no Node package for $(uname -m)" >&2; exit 2 ;;
esac
dir=$cache/$version
if [[ ! -x $dir/bin/node ]]; then
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/fetch.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent --loglevel=error "node-linux-$arch@$version" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp"
  "$tmp/package/bin/node" --version >/dev/null
  rm -rf "$dir"
  mv "$tmp/package" "$dir"
fi
echo "$dir/bin"
