#!/usr/bin/env bash
# Runs the whole test suite once per harness runtime and prints one summary:
#
#   scripts/test-all.sh                 # process, then container
#   scripts/test-all.sh container       # only the container pass
#
# The process pass runs ZooKeeper and etcd as local processes; the container
# pass runs them in containers (needs an engine: DOCKER_HOST, or as root
# `export "$(scripts/start-dockerd.sh)"` and docker/build-images.sh). Without
# an engine the container pass is skipped with a message, except under CI,
# where it is an error. Extra jest arguments go in ELECT_JEST_ARGS; jest's
# JSON results are kept in ELECT_TEST_RESULTS_DIR if set.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/docker-env.sh
. "$repo/scripts/docker-env.sh"

runtimes=("$@")
((${#runtimes[@]} > 0)) || runtimes=(process container)

if [[ -n ${ELECT_TEST_RESULTS_DIR:-} ]]; then
  results=$ELECT_TEST_RESULTS_DIR
  mkdir -p "$results"
else
  results=$(mktemp -d "${TMPDIR:-/tmp}/elect-test-all.XXXXXX")
  trap 'rm -rf "$results"' EXIT
fi

engine_answers() {
  if [[ -z ${DOCKER_HOST:-} && ! -S /var/run/docker.sock && -S $ELECT_DOCKER_SOCK ]]; then
    export DOCKER_HOST=$ELECT_DOCKER_HOST
  fi
  command -v docker >/dev/null && docker info >/dev/null 2>&1
}

status=0
files=()
for runtime in "${runtimes[@]}"; do
  case $runtime in
    process | container) ;;
    *)
      echo "test-all: unknown runtime '$runtime' (process or container)" >&2
      exit 2
      ;;
  esac
  if [[ $runtime == container ]] && ! engine_answers; then
    if [[ ${CI:-} == true ]]; then
      echo "test-all: no container engine answers; the container pass cannot run" >&2
      status=1
    else
      echo "test-all: skipping the container pass: no container engine answers (see scripts/start-dockerd.sh)" >&2
    fi
    continue
  fi
  echo "test-all: ==== ELECT_TEST_RUNTIME=$runtime" >&2
  start=$SECONDS
  rm -f "$results/$runtime.json" "$results/$runtime.stderr"
  # jest reports on stderr; a copy is kept (with the results) to look for a
  # leaked handle below.
  # shellcheck disable=SC2086  # ELECT_JEST_ARGS is a list of arguments
  if ! { ELECT_TEST_RUNTIME=$runtime pnpm test --json --outputFile="$results/$runtime.json" ${ELECT_JEST_ARGS:-} \
    2>&1 1>&3 3>&- | tee "$results/$runtime.stderr" >&2; } 3>&1; then
    status=1
  fi
  # A worker still alive 5 s after its last test (jest.config.js) holds a
  # handle some test leaked: that fails the pass, though every test passed.
  # (Only workers are checked: a run small enough for jest to run in band
  # has none.)
  leaked=0
  grep -q 'failed to exit gracefully' "$results/$runtime.stderr" || leaked=$?
  if ((leaked == 0)); then
    echo "test-all: a test worker did not exit after its last test: a test leaked a handle (run the files of that worker with --detectOpenHandles)" >&2
    status=1
  elif ((leaked > 1)); then
    echo "test-all: could not read jest's output to look for a leaked handle" >&2
    status=1
  fi
  echo "test-all: $runtime pass took $((SECONDS - start))s" >&2
  files+=("$results/$runtime.json")
done

node scripts/jest-summary.mjs --each "${files[@]}"
exit "$status"
