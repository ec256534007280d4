#!/bin/sh
# The leader's work in the CLI tests. It proves "one at a time" with a kernel
# lock: fd 9 holds an exclusive flock on $LOCK for as long as this shell
# lives, and the kernel drops it the moment the shell dies, however it dies.
# If the lock is taken when we start, another candidate's work is still
# running: we say OVERLAP (the tests fail on it), then wait for the lock.
#
# Lines on stdout: "start <id> <token> <pid>", "stop <id> <signal>",
# "grandchild <pid>", "OVERLAP <id>". With $MARKERS set, start/stop lines are
# also appended there, in the order they happened across all candidates.
#
# WORKER_MODE: run (default) | ignore-term | exit:<n> | trap-exit:<n> | grandchild
mode=${WORKER_MODE:-run}
# The markers file first: tests act on the stdout line (e.g. signal us), and a
# trap could end the shell before a second write.
say() {
  [ -n "$MARKERS" ] && echo "$*" >> "$MARKERS"
  echo "$*"
}
exec 9>>"${LOCK:-/dev/null}"
if [ -n "$LOCK" ] && ! flock -n 9; then
  say "OVERLAP $ELECT_ID"
  flock 9
fi
# Traps go in before "start" is said: a test may signal us the moment it reads it.
case $mode in
  ignore-term) trap 'say "ignored TERM $ELECT_ID"' TERM ;;
  trap-exit:*) trap 'say "stop $ELECT_ID TERM"; exit '"${mode#trap-exit:}" TERM INT ;;
  exit:*) ;;
  *) trap 'say "stop $ELECT_ID TERM"; exit 143' TERM
     trap 'say "stop $ELECT_ID INT"; exit 130' INT ;;
esac
say "start $ELECT_ID $ELECT_TOKEN $$"
case $mode in
  exit:*) exit "${mode#exit:}" ;;
  grandchild)
    sleep 300 9>&- &
    say "grandchild $!" ;;
esac
# Short sleeps (without the lock fd) so that a trapped signal is acted on quickly.
while :; do sleep 0.05 9>&-; done
