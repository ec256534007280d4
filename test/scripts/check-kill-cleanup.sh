#!/usr/bin/env bash
# Proves the harness's "nothing outlives the tests" promise for the worst
# case: the whole jest run (runner and workers) is SIGKILLed mid-suite, so no
# afterAll, finally or exit hook runs. Within a few seconds the watchdogs must
# have killed every server and removed every temp dir and network namespace.
# Exits non-zero, listing what was left, if anything survives.
#
# The run gets its own TMPDIR, so its servers (whose data dirs live there)
# are told apart from anybody else's by command line, and its own
# ELECT_TEST_RUN_TAG, so its network namespaces are named elect-<tag>-*.
# Only processes carrying that TMPDIR are ever signalled.
#
#   test/scripts/check-kill-cleanup.sh      (from anywhere; CI-friendly)
# Environment: ELECT_KILL_CHECK_SECONDS (cleanup budget, default 10),
# ELECT_KILL_CHECK_SERVERS (servers to wait for before the kill, default 4).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
budget=${ELECT_KILL_CHECK_SECONDS:-10}
want=${ELECT_KILL_CHECK_SERVERS:-4}
run_tmp=$(mktemp -d /tmp/elect-kill-check-XXXXXX)
tag="kc$$"
log="$run_tmp.log"

servers() { pgrep -f -- "$run_tmp/" || true; }
leftover_dirs() { find "$run_tmp" -mindepth 1 -maxdepth 1 -name 'elect-test-*' 2>/dev/null || true; }
leftover_netns() { ip netns list 2>/dev/null | awk '{print $1}' | grep -- "^elect-$tag-" || true; }

cd "$root"
# setsid: jest and its workers form one new process group we can kill at once.
TMPDIR="$run_tmp" ELECT_TEST_RUN_TAG="$tag" ELECT_TEST_RUNTIME=process \
  NODE_OPTIONS=--experimental-vm-modules \
  setsid node_modules/.bin/jest --selectProjects test \
  --testPathPatterns 'test/tests/(zookeeper|etcd|netns)\.test\.ts' >"$log" 2>&1 &
jest_pid=$!

echo "jest run $jest_pid (TMPDIR=$run_tmp): waiting for $want servers"
seen=0
for _ in $(seq 1 1200); do
  seen=$(servers | wc -l)
  [ "$seen" -ge "$want" ] && break
  if ! kill -0 "$jest_pid" 2>/dev/null; then
    echo "FAIL: jest ended before $want servers were up; see $log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ "$seen" -lt "$want" ]; then
  kill -KILL -- "-$jest_pid" 2>/dev/null || true
  echo "FAIL: only $seen servers came up in 120 s; see $log" >&2
  exit 1
fi

echo "SIGKILL to jest's process group with $seen servers, $(leftover_dirs | wc -l) temp dirs, $(leftover_netns | wc -l) namespaces up"
killed_at=$(date +%s%N)
kill -KILL -- "-$jest_pid"
{ wait "$jest_pid"; } 2>/dev/null || true

clean=false
for _ in $(seq 1 $((budget * 20))); do
  if [ -z "$(servers)" ] && [ -z "$(leftover_dirs)" ] && [ -z "$(leftover_netns)" ]; then
    clean=true
    break
  fi
  sleep 0.05
done
elapsed_ms=$((($(date +%s%N) - killed_at) / 1000000))

if $clean; then
  echo "OK: no server, temp dir or namespace left ${elapsed_ms} ms after the kill"
  rm -rf "$run_tmp" "$log"
  exit 0
fi

echo "FAIL: left behind ${elapsed_ms} ms after the kill:" >&2
servers | xargs -r ps -o pid,pgid,args -p >&2 || true
leftover_dirs >&2
leftover_netns >&2
# Do not leave the mess for others: end what this run started (by pid), then report failure.
servers | xargs -r kill -KILL 2>/dev/null || true
leftover_netns | xargs -r -n1 ip netns delete 2>/dev/null || true
rm -rf "$run_tmp"
echo "jest output kept in $log" >&2
exit 1
