# shellcheck shell=bash disable=SC2034  # sourced: the variables are used by the callers
# Where elect's private Docker engine keeps its state. Sourced by
# start-dockerd.sh, stop-dockerd.sh and docker/build-images.sh.
#
# The data root (images, containers) lives under /var/cache so that images
# built once survive between runs on the same machine; a fresh machine starts
# empty and builds them. Everything that only matters while the engine runs
# (sockets, pidfile, containerd state) lives under /run.

ELECT_DOCKER_DATA=${ELECT_DOCKER_DATA:-/var/cache/elect-docker}
ELECT_DOCKER_RUN=${ELECT_DOCKER_RUN:-/run/elect-docker}
ELECT_DOCKER_SOCK=$ELECT_DOCKER_RUN/docker.sock
ELECT_DOCKER_PIDFILE=$ELECT_DOCKER_RUN/dockerd.pid
ELECT_DOCKER_LOG=$ELECT_DOCKER_RUN/dockerd.log
ELECT_DOCKER_HOST=unix://$ELECT_DOCKER_SOCK

# Prints the pid of the dockerd that our pidfile names, if that process is
# alive and really is a dockerd using our pidfile (pids get reused).
elect_dockerd_pid() {
  local pid
  [[ -s $ELECT_DOCKER_PIDFILE ]] || return 1
  pid=$(<"$ELECT_DOCKER_PIDFILE")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  # cmdline is NUL-separated; make it one line to match against.
  if [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == */dockerd ]] &&
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "--pidfile $ELECT_DOCKER_PIDFILE "; then
    echo "$pid"
    return 0
  fi
  return 1
}
