#!/bin/bash
# Runs the ZooKeeper server in the foreground (the only mode that makes sense
# in a container) with $ZOO_CONF_DIR/zoo.cfg. JVMFLAGS adds JVM options.
set -euo pipefail
# shellcheck source=docker/images/zookeeper/zk-classpath.sh
. /usr/local/bin/zk-classpath.sh

case ${1:-start-foreground} in
  start-foreground)
    # JVMFLAGS is a list of options: split it on purpose.
    # shellcheck disable=SC2086
    exec java "${ZK_JAVA_OPTS[@]}" -XX:+ExitOnOutOfMemoryError ${JVMFLAGS:-} \
      -cp "$ZK_CLASSPATH" org.apache.zookeeper.server.quorum.QuorumPeerMain "$ZOO_CONF_DIR/zoo.cfg"
    ;;
  print-cmd)
    echo "java ${ZK_JAVA_OPTS[*]} ${JVMFLAGS:-} -cp $ZK_CLASSPATH org.apache.zookeeper.server.quorum.QuorumPeerMain $ZOO_CONF_DIR/zoo.cfg"
    ;;
  *)
    echo "usage: zkServer.sh [start-foreground|print-cmd]" >&2
    exit 2
    ;;
esac
