#!/usr/bin/env bash
# The project's test command (README; CI runs exactly this), from a fresh
# clone on a fresh Debian/Ubuntu machine, as root: install pnpm, the servers
# and a private Docker engine, build the offline images, then install, build,
# lint, typecheck, check the packages as a user installs them (pack, install
# outside the workspace, import, type-check), run every test twice (servers as processes, then in
# containers), the unit tests and one pass per backend on the other supported
# Node versions, then a short chaos soak. Any failing step fails the run; the
# engine this run started is stopped on the way out.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/docker-env.sh
. "$repo/scripts/docker-env.sh"

timings=()
current=
started_dockerd=
results=$(mktemp -d "${TMPDIR:-/tmp}/elect-ci.XXXXXX")
export ELECT_TEST_RESULTS_DIR=$results

step() {
  local name=$1 start=$SECONDS
  shift
  current=$name
  echo
  echo "=== $name"
  "$@"
  timings+=("$(printf '%-28s %4ds' "$name" $((SECONDS - start)))")
  current=
}

# Both test passes always run (a failure in one says more next to the other's
# result); the run fails afterwards if either did.
tests_failed=
test_step() {
  local name=$1 start=$SECONDS
  shift
  echo
  echo "=== $name"
  if "$@"; then
    timings+=("$(printf '%-28s %4ds' "$name" $((SECONDS - start)))")
  else
    timings+=("$(printf '%-28s %4ds  FAILED' "$name" $((SECONDS - start)))")
    tests_failed=yes
  fi
}

finish() {
  local status=$?
  if [[ -n $started_dockerd ]]; then
    bash scripts/stop-dockerd.sh || true
  fi
  echo
  echo "=== step times"
  local line
  for line in "${timings[@]}"; do echo "  $line"; done
  if [[ -n $current ]]; then echo "  $current  FAILED"; fi
  echo "  total                        $(printf '%4ds' "$SECONDS")"
  # The last line: all tests of both passes.
  node scripts/jest-summary.mjs "$results/process.json" "$results/container.json" || true
  rm -rf "$results"
  exit "$status"
}
trap finish EXIT


start_engine() {
  if elect_dockerd_pid >/dev/null && docker -H "$ELECT_DOCKER_HOST" info >/dev/null 2>&1; then
    echo "reusing the engine that is already running; it is left running"
  else
    started_dockerd=yes
  fi
  local line
  line=$(bash scripts/start-dockerd.sh)
  export "${line?}"
  echo "$line"
}

step "pnpm and servers" bash scripts/bootstrap.sh
step "docker engine" start_engine
step "offline images" bash docker/build-images.sh
step "build" pnpm build
step "elect image" bash docker/build-elect-image.sh
step "lint" pnpm lint
step "typecheck" pnpm typecheck
step "packages install clean" pnpm check:packages
# Every temp dir a test makes starts with "elect-" and is removed by the test.
temp_dirs() { find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'elect-*' ! -path "$results" | sort; }
temp_before=$(mktemp)
temp_dirs > "$temp_before"
no_temp_left() {
  local left
  left=$(temp_dirs | comm -13 "$temp_before" -)
  rm -f "$temp_before"
  if [[ -n $left ]]; then
    echo "temp dirs left by the tests:"
    echo "$left"
    return 1
  fi
  echo "none left"
}
test_step "tests, process runtime" bash scripts/test-all.sh process
test_step "tests, container runtime" bash scripts/test-all.sh container
# Node 20.19 (the oldest supported), 22 and 24: unit tests and one pass per backend.
test_step "tests, other Node versions" bash scripts/test-node-versions.sh
# The short chaos soak: every fault kind, >= 50 faulted transitions per backend
# on a single server, then a 3-member ensemble / cluster (member isolation in a
# network namespace); then a priority election with its preemption and
# handover rounds. Fails on any overlap, accepted stale write or leftover.
chaos_short() {
  node packages/chaos/dist/main.js --transitions 50 --json "$results/chaos-1.json" &&
    node packages/chaos/dist/main.js --members 3 --transitions 14 --json "$results/chaos-3.json" &&
    node packages/chaos/dist/main.js --priority --transitions 20 --json "$results/chaos-priority.json"
}
test_step "chaos soak, short" chaos_short
test_step "tests leave no temp dirs" no_temp_left
test_step "SIGKILLed test run leaves nothing" bash test/scripts/check-kill-cleanup.sh
[[ -z $tests_failed ]]
