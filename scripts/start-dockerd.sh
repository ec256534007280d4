#!/usr/bin/env bash
# Starts a private Docker engine for elect's container tests and prints the
# DOCKER_HOST line to use with it:
#
#   export "$(scripts/start-dockerd.sh)"      # DOCKER_HOST=unix:///run/elect-docker/docker.sock
#
# If our engine is already running it is reused (nothing new is started).
# Stop it with scripts/stop-dockerd.sh, which stops only this engine.
#
# The engine is set up for machines where nothing else may be touched: no
# iptables rules, no IP forwarding or masquerading, and no default bridge
# (--bridge=none), so it never creates a docker0 interface or a private-range
# address. Containers use host networking (all traffic on 127.0.0.1).
#
# Needs root and dockerd (Debian: docker.io; scripts/install-servers.sh).
# Settings: ELECT_DOCKER_DATA (data root, default /var/cache/elect-docker),
# ELECT_DOCKER_RUN (sockets/pidfile, default /run/elect-docker),
# ELECT_DOCKERD_TIMEOUT (seconds to wait for the engine, default 60).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/docker-env.sh
. "$here/docker-env.sh"

log() { echo "start-dockerd: $*" >&2; }

engine_answers() { docker -H "$ELECT_DOCKER_HOST" info >/dev/null 2>&1; }

if pid=$(elect_dockerd_pid) && engine_answers; then
  log "reusing the engine already running (pid $pid)"
  echo "DOCKER_HOST=$ELECT_DOCKER_HOST"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  log "dockerd needs root; run this script as root (or use a Docker you already have and set DOCKER_HOST)"
  exit 1
fi
for tool in dockerd docker; do
  if ! command -v "$tool" >/dev/null; then
    log "'$tool' not found; install Docker first (Debian/Ubuntu: scripts/install-servers.sh, or apt-get install docker.io)"
    exit 1
  fi
done

mkdir -p "$ELECT_DOCKER_DATA" "$ELECT_DOCKER_RUN"
chmod 700 "$ELECT_DOCKER_RUN"

# Two starts at once would run two engines on one data root: serialise them.
exec 9>"$ELECT_DOCKER_RUN/start.lock"
flock -w 120 9 || { log "another start is stuck holding $ELECT_DOCKER_RUN/start.lock"; exit 1; }

if pid=$(elect_dockerd_pid); then
  # Started by someone else while we waited for the lock, or still starting.
  log "an engine is already starting (pid $pid); waiting for it"
else
  # A pidfile or socket left by an engine that died would make dockerd refuse to start.
  rm -f "$ELECT_DOCKER_PIDFILE" "$ELECT_DOCKER_SOCK"
  log "starting dockerd (data root $ELECT_DOCKER_DATA, log $ELECT_DOCKER_LOG)"
  # setsid: the engine must not die with the caller's terminal or process group.
  setsid dockerd \
    --host "$ELECT_DOCKER_HOST" \
    --data-root "$ELECT_DOCKER_DATA" \
    --exec-root "$ELECT_DOCKER_RUN/exec" \
    --pidfile "$ELECT_DOCKER_PIDFILE" \
    --storage-driver overlay2 \
    --iptables=false --ip-forward=false --ip-masq=false \
    --bridge=none \
    --log-opt max-size=10m --log-opt max-file=2 \
    </dev/null >>"$ELECT_DOCKER_LOG" 2>&1 &
  started=$!
fi

timeout=${ELECT_DOCKERD_TIMEOUT:-60}
deadline=$((SECONDS + timeout))
until engine_answers; do
  if [[ -n ${started:-} ]] && ! kill -0 "$started" 2>/dev/null; then
    log "dockerd exited during start-up; the end of its log:"
    tail -n 30 "$ELECT_DOCKER_LOG" >&2 || true
    exit 1
  fi
  if ((SECONDS >= deadline)); then
    log "dockerd did not answer within ${timeout}s; the end of its log:"
    tail -n 30 "$ELECT_DOCKER_LOG" >&2 || true
    exit 1
  fi
  # Polling the engine's own answer; there is nothing to wait on instead.
  sleep 0.2
done

log "engine ready (pid $(elect_dockerd_pid || echo '?'))"
echo "DOCKER_HOST=$ELECT_DOCKER_HOST"
