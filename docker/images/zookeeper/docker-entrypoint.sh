#!/bin/bash
# Configures ZooKeeper from the environment on a container's first start, then
# runs the command (by default the server) as the unprivileged user zookeeper.
#
# Variables, as in the official image:
#   ZOO_MY_ID                 this server's id (written to $ZOO_DATA_DIR/myid), default 1
#   ZOO_SERVERS               space-separated `server.N=host:peer:election[;[clienthost:]clientport]`
#   ZOO_TICK_TIME, ZOO_INIT_LIMIT, ZOO_SYNC_LIMIT, ZOO_MAX_CLIENT_CNXNS,
#   ZOO_STANDALONE_ENABLED, ZOO_ADMINSERVER_ENABLED,
#   ZOO_AUTOPURGE_PURGEINTERVAL, ZOO_AUTOPURGE_SNAPRETAINCOUNT
#   ZOO_4LW_COMMANDS_WHITELIST  e.g. srvr,mntr,ruok
#   ZOO_CFG_EXTRA             space-separated extra `key=value` lines for zoo.cfg
#   JVMFLAGS                  extra JVM options for the server
# And, for host networking where each server needs its own port:
#   ZOO_CLIENT_PORT           clientPort (when ZOO_SERVERS does not give one)
#   ZOO_CLIENT_PORT_ADDRESS   clientPortAddress, e.g. 127.0.0.1
# A zoo.cfg mounted at $ZOO_CONF_DIR/zoo.cfg is used as it is.
set -euo pipefail

write_config() {
  local cfg=$1 servers=${ZOO_SERVERS:-} line
  if [[ -z $servers && -z ${ZOO_CLIENT_PORT:-} ]]; then
    servers="server.1=localhost:2888:3888;2181"
  fi
  {
    echo "dataDir=$ZOO_DATA_DIR"
    echo "dataLogDir=$ZOO_DATA_LOG_DIR"
    echo "tickTime=$ZOO_TICK_TIME"
    echo "initLimit=$ZOO_INIT_LIMIT"
    echo "syncLimit=$ZOO_SYNC_LIMIT"
    echo "autopurge.snapRetainCount=$ZOO_AUTOPURGE_SNAPRETAINCOUNT"
    echo "autopurge.purgeInterval=$ZOO_AUTOPURGE_PURGEINTERVAL"
    echo "maxClientCnxns=$ZOO_MAX_CLIENT_CNXNS"
    echo "standaloneEnabled=$ZOO_STANDALONE_ENABLED"
    echo "admin.enableServer=$ZOO_ADMINSERVER_ENABLED"
    if [[ -n ${ZOO_CLIENT_PORT:-} ]]; then echo "clientPort=$ZOO_CLIENT_PORT"; fi
    if [[ -n ${ZOO_CLIENT_PORT_ADDRESS:-} ]]; then echo "clientPortAddress=$ZOO_CLIENT_PORT_ADDRESS"; fi
    for line in $servers; do echo "$line"; done
    if [[ -n ${ZOO_4LW_COMMANDS_WHITELIST:-} ]]; then
      echo "4lw.commands.whitelist=$ZOO_4LW_COMMANDS_WHITELIST"
    fi
    for line in ${ZOO_CFG_EXTRA:-}; do echo "$line"; done
  } >"$cfg"
}

if [[ ${1:-} == zkServer.sh ]]; then
  mkdir -p "$ZOO_CONF_DIR" "$ZOO_DATA_DIR" "$ZOO_DATA_LOG_DIR" "$ZOO_LOG_DIR"
  # Only on the first start: a restarted container keeps its configuration.
  [[ -f $ZOO_CONF_DIR/zoo.cfg ]] || write_config "$ZOO_CONF_DIR/zoo.cfg"
  [[ -f $ZOO_DATA_DIR/myid ]] || echo "${ZOO_MY_ID:-1}" >"$ZOO_DATA_DIR/myid"
  if [[ $(id -u) -eq 0 ]]; then
    chown -R zookeeper:zookeeper "$ZOO_DATA_DIR" "$ZOO_DATA_LOG_DIR" "$ZOO_LOG_DIR"
    chown zookeeper:zookeeper "$ZOO_CONF_DIR" 2>/dev/null || true
    exec setpriv --reuid=zookeeper --regid=zookeeper --init-groups "$@"
  fi
fi
exec "$@"
