#!/usr/bin/env bash
# Stops the private Docker engine that scripts/start-dockerd.sh started, found
# by its pidfile; never any other dockerd. Images stay in the data root for the
# next start. Does nothing (and succeeds) if that engine is not running.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/docker-env.sh
. "$here/docker-env.sh"

log() { echo "stop-dockerd: $*" >&2; }

if ! pid=$(elect_dockerd_pid); then
  log "no engine of ours is running"
  exit 0
fi

# dockerd stops its containers (SIGTERM, then SIGKILL after their stop
# timeout) and its containerd before it exits; give it that long.
log "stopping dockerd (pid $pid)"
kill -TERM "$pid"
deadline=$((SECONDS + ${ELECT_DOCKERD_STOP_TIMEOUT:-40}))
while kill -0 "$pid" 2>/dev/null; do
  if ((SECONDS >= deadline)); then
    log "dockerd (pid $pid) still running; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    break
  fi
  sleep 0.2
done

# The containerd that dockerd ran for itself normally exits with it; after a
# SIGKILL it may not. Only the one with our exec root's pidfile is ours.
cpidfile=$ELECT_DOCKER_RUN/exec/containerd/containerd.pid
if [[ -s $cpidfile ]]; then
  cpid=$(<"$cpidfile")
  if [[ $cpid =~ ^[0-9]+$ && $(readlink "/proc/$cpid/exe" 2>/dev/null) == */containerd ]]; then
    log "stopping its containerd (pid $cpid)"
    kill -TERM "$cpid" 2>/dev/null || true
  fi
fi
rm -f "$ELECT_DOCKER_PIDFILE"

# dockerd can leave mounts behind (the host network namespace handle under its
# exec root, the private bind of its data root); only ours, deepest first.
awk -v run="$ELECT_DOCKER_RUN/" -v data="$ELECT_DOCKER_DATA" \
  'index($5, run) == 1 || $5 == data || index($5, data "/") == 1 { print $5 }' /proc/self/mountinfo |
  sort -r | while read -r mountpoint; do
  umount "$mountpoint" 2>/dev/null || umount -l "$mountpoint" 2>/dev/null || true
done
log "stopped"
