/**
 * The watchdog: the reason a child cannot outlive `elect`.
 *
 * If `elect` is SIGKILLed or OOM-killed, it cannot stop its child, and the
 * child would go on working as a leader that nobody elected. If `elect` is
 * frozen (SIGSTOP, a stuck event loop, a long GC pause) while its command is
 * not, the command would work on past the loss deadline, when another
 * candidate may already lead. So before the first child starts, `elect`
 * spawns a tiny POSIX shell loop, detached into its own session (terminal
 * signals and `kill -- -<elect's group>` do not reach it), whose stdin is a
 * pipe from `elect`:
 *
 *   - `elect` writes the child's process group id and the time left before
 *     the loss deadline when the child starts, the same again each time the
 *     deadline moves, and `0` once that group is gone (so a recycled pid is
 *     never shot);
 *   - for each line the shell replaces its one timer (a `sleep` in a
 *     subshell): when the time left runs out without a newer line, it
 *     SIGKILLs the group. A healthy `elect` stops its command before the
 *     deadline anyway (SIGTERM, then SIGKILL after --grace), so this timer
 *     only fires when `elect` could not act; the command then gets no grace;
 *   - the kernel closes the pipe when `elect` exits, however it dies;
 *   - the shell's `read` then hits end of file, and it SIGKILLs the last group
 *     it was told about.
 *
 * The timer counts from when the shell reads the line, a moment after
 * `elect` measured the time left, so it fires a moment after the deadline:
 * the deadline's safety margin (core's LossDeadline) is what covers that,
 * as it covers `elect`'s own timers.
 *
 * The pipe's write end is close-on-exec, so the child does not inherit it and
 * cannot keep the watchdog waiting. About a megabyte of memory, two processes
 * per `elect` while a command runs, no polling. There is no window between
 * the child's fork and `arm()`: the child waits at a gate until the watchdog
 * has the group id (gate.ts), so if `elect` dies in between, the command
 * never starts.
 *
 * The watchdog's stdout and stderr are /dev/null: it never holds `elect`'s
 * own, so whoever reads those sees end of file once `elect` and its command
 * are gone, not once the watchdog is.
 */
import type { ChildProcess } from 'node:child_process';
import { systemClock, type Clock } from '@elect/core';
import type { SpawnFn, Watchdog } from './deps.js';
import type { Logger } from './log.js';

// `kill -s KILL -- -PGID` is the portable spelling (dash rejects `kill -KILL -PGID`).
// The timer's trap runs as soon as its `wait` is interrupted, so a replaced
// timer takes its `sleep` with it, and reaps it before it exits: an orphan
// would go to the nearest init, and where that is `elect` itself (process 1
// of a container started without an init) Node never reaps it, so one zombie
// would pile up with each move of the deadline. Cancelling reaps the timer
// (`wait`) for the same reason. A timer that fired stays (as a long `sleep`) until
// it is cancelled, so its pid cannot be recycled and signalled by mistake;
// and it fires only while its watchdog lives (`$$` is the watchdog's pid in a
// subshell), so an orphaned timer of a killed watchdog shoots nothing. A
// `sleep` that takes no fractions of a second gets whole seconds, rounded
// down: earlier, never later.
const script = `pg=0 timer=
if sleep 0.001 2>/dev/null; then frac=1; else frac=; fi
cancel() { [ -n "$timer" ] && kill "$timer" 2>/dev/null && wait "$timer" 2>/dev/null; timer=; }
while read -r line left; do
  cancel
  pg=$line
  [ "$pg" -gt 0 ] 2>/dev/null && [ -n "$left" ] || continue
  [ -n "$frac" ] || left=\${left%.*}
  ( trap 'kill "$s" 2>/dev/null; wait "$s"; exit 0' TERM
    sleep "$left" & s=$!
    wait "$s" || exit 0
    kill -0 "$$" 2>/dev/null || exit 0
    kill -s KILL -- "-$pg"
    exec sleep 86400 ) &
  timer=$!
done
cancel
[ "$pg" -gt 0 ] 2>/dev/null && kill -s KILL -- "-$pg"
exit 0`;

/** The line for group `pgid` with `leftMs` before the deadline: "<pgid> <seconds>", or "0". */
function line(pgid: number, leftMs: number | undefined): string {
  if (pgid <= 0) return '0\n';
  if (leftMs === undefined) return `${pgid}\n`;
  return `${pgid} ${(Math.max(0, leftMs) / 1000).toFixed(3)}\n`;
}

export async function startWatchdog(spawn: SpawnFn, logger: Logger, clock: Clock = systemClock): Promise<Watchdog> {
  let armed = 0;
  /** When the armed group must be gone, on core's clock (undefined: only once `elect` dies). */
  let deadline: number | undefined;
  let closed = false;
  let proc = await launch(spawn);
  logger.debug({ watchdog: proc.pid }, 'watchdog started');

  /** Resolves once the line has been handed to the kernel (or cannot be: see onExit). */
  const send = (): Promise<void> => {
    const text = line(armed, deadline === undefined ? undefined : deadline - clock.now());
    return new Promise((resolve) => {
      const stdin = proc.stdin;
      // A dead watchdog's pipe: the restart below tells the next one `armed`.
      if (!stdin?.writable) return resolve();
      stdin.write(text, () => resolve());
    });
  };
  const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
    if (closed) return;
    // Someone killed it. Start another and tell it what to guard; until it
    // runs, the child is unguarded, so say so.
    logger.warn({ code, signal }, 'watchdog exited unexpectedly; starting a new one');
    launch(spawn).then(
      (next) => {
        proc = next;
        proc.once('exit', onExit);
        if (closed) proc.stdin?.end();
        else void send();
      },
      (error: unknown) => logger.error({ err: error }, 'cannot restart the watchdog: the command is not guarded against elect dying'),
    );
  };
  proc.once('exit', onExit);

  return {
    arm: (pgid, at) => {
      armed = pgid;
      deadline = at;
      return send();
    },
    hold: (at) => {
      if (armed === 0 || at === deadline) return;
      deadline = at;
      void send();
    },
    disarm: () => {
      armed = 0;
      deadline = undefined;
      void send();
    },
    close: () => {
      if (closed) return;
      closed = true;
      armed = 0;
      deadline = undefined;
      void send();
      proc.stdin?.end();
    },
  };
}

async function launch(spawn: SpawnFn): Promise<ChildProcess> {
  const proc = spawn('/bin/sh', ['-c', script], { detached: true, stdio: ['pipe', 'ignore', 'ignore'], env: {} });
  await new Promise<void>((resolve, reject) => {
    proc.once('spawn', resolve);
    proc.once('error', reject);
  });
  // A dead watchdog must not crash us with EPIPE: its exit is handled above.
  proc.stdin?.on('error', () => {});
  // Neither the process nor its pipe may keep `elect`'s event loop alive.
  proc.unref();
  (proc.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return proc;
}
