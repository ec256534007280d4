# shellcheck shell=bash disable=SC2034  # sourced: the variables are used by the callers
# Sourced by zkServer.sh and zkCli.sh. Debian's zookeeper.jar lists its own
# dependencies in its manifest; only the logging backend has to be added.
ZK_CLASSPATH="$ZOO_CONF_DIR:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar"

# A console logger unless the user mounted a configuration of their own:
# container logs belong on stdout.
if [[ ! -f $ZOO_CONF_DIR/log4j.properties && -w $ZOO_CONF_DIR ]]; then
  cat >"$ZOO_CONF_DIR/log4j.properties" <<'PROPS'
log4j.rootLogger=${zookeeper.root.logger}
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] %-5p [%t:%C{1}@%L] - %m%n
PROPS
fi
ZK_JAVA_OPTS=(
  "-Dzookeeper.log.dir=$ZOO_LOG_DIR"
  "-Dzookeeper.root.logger=${ZOO_LOG4J_PROP:-INFO,CONSOLE}"
  "-Dlog4j.configuration=file:$ZOO_CONF_DIR/log4j.properties"
)
