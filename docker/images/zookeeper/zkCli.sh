#!/bin/bash
# The ZooKeeper command-line client: zkCli.sh -server 127.0.0.1:2181 ls /
set -euo pipefail
ZOO_LOG4J_PROP=${ZOO_LOG4J_PROP:-WARN,CONSOLE}
# shellcheck source=docker/images/zookeeper/zk-classpath.sh
. /usr/local/bin/zk-classpath.sh
# shellcheck disable=SC2086
exec java "${ZK_JAVA_OPTS[@]}" ${CLIENT_JVMFLAGS:-} -cp "$ZK_CLASSPATH" org.apache.zookeeper.ZooKeeperMain "$@"
