#!/usr/bin/env bash
# Installs what elect's real-server tests need on Debian or Ubuntu, as root,
# from the distribution's own packages:
#   ZooKeeper 3.8 and a Java runtime, etcd server and client, nftables and
#   iproute2 (network faults), Apache Curator (JVM interop tests), and
#   docker.io + debootstrap (the container runtime and its offline images).
#
# Idempotent: when everything is installed it only says so (no apt-get update).
# Services are installed, never started: the tests start their own servers.
#
# Elsewhere: macOS with Homebrew `brew install zookeeper etcd`, or any machine
# with Docker: `docker compose -f docker/compose.yml up -d` (see README).
set -euo pipefail

log() { echo "install-servers: $*" >&2; }

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
  printf '%s\n' >&2 \
    'install-servers: this script needs apt (Debian or Ubuntu). Elsewhere, install the servers yourself:' \
    '  macOS (Homebrew):  brew install zookeeper etcd' \
    '  any Docker host:   docker compose -f docker/compose.yml up -d   (ZooKeeper on 127.0.0.1:2181-2183, etcd on 2379/2381/2383)' \
    'The tests need a Java 17+ runtime with ZooKeeper 3.8 and etcd 3.4+ on PATH, or a container engine (DOCKER_HOST).'
  exit 1
fi

as_root=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    log "run this as root (or with passwordless sudo)"
    exit 1
  fi
fi

# The servers themselves; failing to install any of these fails the script.
required=(zookeeper etcd-server etcd-client nftables iproute2)
# Used by some tests only (they skip without them); installed when the
# distribution has them.
optional=(libcurator-client-java libcurator-framework-java libcurator-recipes-java docker.io debootstrap)

installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]; }
available() { [[ -n $(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { if ($2 != "(none)") print $2 }') ]]; }

# ZooKeeper 3.8 needs Java 17; pick its headless runtime where the
# distribution has it, else the default one.
if ! installed openjdk-17-jre-headless && ! installed default-jre-headless; then
  required+=(openjdk-17-jre-headless)
fi

missing() { local p; for p in "$@"; do installed "$p" || echo "$p"; done; }
mapfile -t need < <(missing "${required[@]}" "${optional[@]}")
if ((${#need[@]} == 0)); then
  log "all present"
  exit 0
fi

log "installing: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq >/dev/null

# Keep only what the package lists offer; a missing required one is an error.
install=()
for p in "${need[@]}"; do
  if available "$p"; then
    install+=("$p")
  elif [[ $p == openjdk-17-jre-headless ]] && available default-jre-headless; then
    install+=(default-jre-headless)
  elif [[ " ${optional[*]} " == *" $p "* ]]; then
    log "warning: $p is not available here; tests that need it will skip"
  else
    log "$p is not available from this machine's apt sources"
    exit 1
  fi
done

# Package scripts must not start the services they install (docker, etcd):
# tests run their own servers. Debian's policy-rc.d hook says "don't".
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null
  "${as_root[@]}" chmod 755 "$policy"
  trap '"${as_root[@]}" rm -f "$policy"' EXIT
fi

if ((${#install[@]} > 0)); then
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${install[@]}" >/dev/null
fi

# Say what the tests will find.
for tool in java etcd etcdctl nft ip; do
  command -v "$tool" >/dev/null || { log "still missing after install: $tool"; exit 1; }
done
log "installed; java: $(java -version 2>&1 | head -n 1), etcd: $(etcd --version 2>/dev/null | head -n 1)"
