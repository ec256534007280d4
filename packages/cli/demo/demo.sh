#!/usr/bin/env bash
# elect's demo: leader election and failover with the real `elect` command.
#
# For ZooKeeper and then etcd, it
#   1. starts a private server (temp dir, ports picked by the OS),
#   2. runs three `elect` candidates around a small command that prints its
#      fencing token (ELECT_TOKEN) every second,
#   3. SIGKILLs the leading `elect` — no chance to clean up — and measures
#      how long until its command is gone (the watchdog's job: milliseconds)
#      and until another candidate's command runs (bounded by --ttl: the
#      server must first expire the dead leader's session / lease),
#   4. stops the rest with SIGTERM, which `elect` passes on to its command.
# Everything it started is stopped and removed on exit, also on Ctrl-C.
#
# Run from the repository root after `pnpm install`:  pnpm demo
# (= pnpm build && bash packages/cli/demo/demo.sh)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
elect_js="$here/../bin/elect.js"
TTL=${DEMO_TTL:-3s}

if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
say() { printf '\n%s%s%s\n' "$bold" "$*" "$plain"; }
die() { echo "demo: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }
elect() { node "$elect_js" "$@"; }

[[ -f "$here/../dist/index.js" && -f "$here/../bundle/elect.js" ]] || die "elect is not built: run 'pnpm build' first (or 'pnpm demo')"

zk_jars=(zookeeper.jar zookeeper-jute.jar slf4j-api.jar slf4j-simple.jar)
servers_present() {
  command -v etcd >/dev/null && command -v java >/dev/null || return 1
  local jar
  for jar in "${zk_jars[@]}"; do [[ -f /usr/share/java/$jar ]] || return 1; done
}
if ! servers_present; then
  [[ -x "$root/scripts/install-servers.sh" ]] || die "ZooKeeper/etcd not installed and scripts/install-servers.sh is missing"
  say "Installing ZooKeeper and etcd (scripts/install-servers.sh)"
  "$root/scripts/install-servers.sh"
  servers_present || die "ZooKeeper/etcd still missing after install-servers.sh"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/elect-demo.XXXXXX")
pids=()
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  # Candidates first (SIGTERM: each passes it to its command and resigns), then servers.
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [[ $status -ne 0 && -d $work ]]; then
    echo "demo failed; the last log lines:" >&2
    tail -n 5 "$work"/*.log >&2 2>/dev/null || true
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A killed process whose parent is gone stays a zombie until init reaps it,
# and some inits take their time: a zombie runs nothing, so it counts as gone.
running() {
  local stat
  stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ -n $stat && $stat != Z* ]]
}

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# Waits until `elect leader` can talk to the server: exit 1 ("no leader") means it answered.
wait_serving() {
  local backend=$1 connect=$2 code
  for _ in $(seq 100); do
    code=0
    elect leader -b "$backend" -c "$connect" -e probe --connect-timeout 1s --log-level silent >/dev/null || code=$?
    [[ $code -eq 0 || $code -eq 1 ]] && return 0
    sleep 0.2
  done
  die "$backend did not start serving on $connect"
}

start_zookeeper() {
  local port dir=$work/zk
  port=$(free_port)
  mkdir -p "$dir/data"
  cat >"$dir/zoo.cfg" <<EOF
tickTime=200
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
minSessionTimeout=400
maxSessionTimeout=60000
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr
EOF
  local cp
  cp=$(printf '/usr/share/java/%s:' "${zk_jars[@]}")
  java -Xmx256m -cp "${cp%:}" org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" >"$work/zookeeper.log" 2>&1 &
  pids+=($!)
  ZK_CONNECT=127.0.0.1:$port
  wait_serving zk "$ZK_CONNECT"
}

start_etcd() {
  local client peer
  client=$(free_port)
  peer=$(free_port)
  etcd --name demo --data-dir "$work/etcd" \
    --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "demo=http://127.0.0.1:$peer" >"$work/etcd.log" 2>&1 &
  pids+=($!)
  ETCD_CONNECT=http://127.0.0.1:$client
  wait_serving etcd "$ETCD_CONNECT"
}

# The leader's work: say who we are, remember when we started, then print the
# fencing token every second. No shell parses elect's arguments: elect runs
# `sh -c SCRIPT` exactly as given, in its own process group.
work_script='
echo "$$" > "$DEMO_DIR/$ELECT_ID.pid"
date +%s%3N > "$DEMO_DIR/$ELECT_ID.started"
echo "$ELECT_ID is the leader now (token $ELECT_TOKEN, pid $$)"
trap "echo \"$ELECT_ID got SIGTERM, stopping\"; exit 0" TERM
while :; do sleep 1; echo "$ELECT_ID working with token $ELECT_TOKEN"; done'

demo() {
  local backend=$1 connect=$2 election=$3
  local dir=$work/$backend
  mkdir -p "$dir"
  local -A elect_pid=()

  say "== $backend: three candidates for election '$election' (--ttl $TTL) =="
  for id in c1 c2 c3; do
    # `node elect.js` directly, not the elect() function, so that $! is elect's own pid.
    DEMO_DIR=$dir node "$elect_js" run -b "$backend" -c "$connect" -e "$election" --id "$id" --ttl "$TTL" --log-level warn \
      -- sh -c "$work_script" \
      > >(sed -u "s/^/  [$backend $id] /") 2>>"$work/elect-$backend-$id.log" &
    elect_pid[$id]=$!
    pids+=($!)
  done

  local leader="" _
  for _ in $(seq 100); do
    for id in c1 c2 c3; do [[ -f $dir/$id.started ]] && leader=$id; done
    [[ -n $leader ]] && break
    sleep 0.1
  done
  [[ -n $leader ]] || die "$backend: nobody became leader"
  sleep 1.2
  say "$ elect candidates -b $backend -e $election     (id, token, value; the leader first)"
  elect candidates -b "$backend" -c "$connect" -e "$election" --log-level warn | sed 's/^/  /'

  local child
  child=$(cat "$dir/$leader.pid")
  say "SIGKILL to the leading elect ($leader, pid ${elect_pid[$leader]}); its command is pid $child"
  local t0 t_gone="" t_new="" next=""
  t0=$(now_ms)
  # (wait: reap it here, so that bash does not announce the kill)
  { kill -KILL "${elect_pid[$leader]}"; wait "${elect_pid[$leader]}"; } 2>/dev/null || true
  while [[ -z $t_new ]]; do
    [[ -z $t_gone ]] && ! running "$child" && t_gone=$(now_ms)
    for id in c1 c2 c3; do
      if [[ $id != "$leader" && -f $dir/$id.started ]]; then next=$id; t_new=$(cat "$dir/$id.started"); fi
    done
    (($(now_ms) - t0 < 30000)) || die "$backend: no failover within 30s"
    sleep 0.01
  done
  [[ -n $t_gone ]] || t_gone=$(now_ms)
  sleep 1.2
  say "$ elect leader -b $backend -e $election --json"
  elect leader -b "$backend" -c "$connect" -e "$election" --json --log-level warn | sed 's/^/  /'
  say "Failover on $backend:"
  echo "  $leader's command killed by the watchdog  $((t_gone - t0)) ms after elect was SIGKILLed"
  echo "  $next's command started                    $((t_new - t0)) ms after (the server first expires $leader's session/lease: --ttl $TTL after it last heard from it)"

  say "SIGTERM to the other two: the waiting one first, then the leader (which passes it on to its command)"
  local code waiting
  for id in c1 c2 c3; do [[ $id != "$leader" && $id != "$next" ]] && waiting=$id; done
  kill -TERM "${elect_pid[$waiting]}"
  code=0; wait "${elect_pid[$waiting]}" || code=$?
  echo "  elect $waiting (still campaigning) exited with $code = 128 + SIGTERM"
  kill -TERM "${elect_pid[$next]}"
  code=0; wait "${elect_pid[$next]}" || code=$?
  echo "  elect $next (leader) exited with its command's status: $code"
  RESULTS+=("$backend: watchdog $((t_gone - t0)) ms, failover $((t_new - t0)) ms (--ttl $TTL)")
}

RESULTS=()
say "Starting ZooKeeper and etcd in $work"
start_zookeeper
start_etcd
echo "  ZooKeeper on $ZK_CONNECT, etcd on $ETCD_CONNECT"

demo zk "$ZK_CONNECT" /demo/leader
demo etcd "$ETCD_CONNECT" demo

say "Summary"
printf '  %s\n' "${RESULTS[@]}"
