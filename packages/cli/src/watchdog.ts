/**
 * The watchdog: the reason a child cannot outlive `elect`.
 *
 * If `elect` is SIGKILLed or OOM-killed, it cannot stop its child, and the
 * child would go on working as a leader that nobody elected. So before the
 * first child starts, `elect` spawns a tiny POSIX shell loop, detached into its
 * own session (terminal signals and `kill -- -<elect's group>` do not reach
 * it), whose stdin is a pipe from `elect`:
 *
 *   - `elect` writes the child's process group id when the child starts, and
 *     `0` once that group is gone (so a recycled pid is never shot);
 *   - the kernel closes the pipe when `elect` exits, however it dies;
 *   - the shell's `read` then hits end of file, and it SIGKILLs the last group
 *     it was told about.
 *
 * The pipe's write end is close-on-exec, so the child does not inherit it and
 * cannot keep the watchdog waiting. About a megabyte of memory, one process
 * per `elect`, no polling. There is no window between the child's fork and
 * `arm()`: the child waits at a gate until the watchdog has the group id
 * (gate.ts), so if `elect` dies in between, the command never starts.
 *
 * The watchdog's stdout and stderr are /dev/null: it never holds `elect`'s
 * own, so whoever reads those sees end of file once `elect` and its command
 * are gone, not once the watchdog is.
 */
import type { ChildProcess } from 'node:child_process';
import type { SpawnFn, Watchdog } from './deps.js';
import type { Logger } from './log.js';

// `kill -s KILL -- -PGID` is the portable spelling (dash rejects `kill -KILL -PGID`).
const script = `pg=0
while read -r line; do pg=$line; done
[ "$pg" -gt 0 ] 2>/dev/null && kill -s KILL -- "-$pg"
exit 0`;

export async function startWatchdog(spawn: SpawnFn, logger: Logger): Promise<Watchdog> {
  let armed = 0;
  let closed = false;
  let proc = await launch(spawn);
  logger.debug({ watchdog: proc.pid }, 'watchdog started');

  /** Resolves once the line has been handed to the kernel (or cannot be: see onExit). */
  const send = (pgid: number): Promise<void> => {
    armed = pgid;
    return new Promise((resolve) => {
      const stdin = proc.stdin;
      // A dead watchdog's pipe: the restart below tells the next one `armed`.
      if (!stdin?.writable) return resolve();
      stdin.write(`${pgid}\n`, () => resolve());
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
        else void send(armed);
      },
      (error: unknown) => logger.error({ err: error }, 'cannot restart the watchdog: the command is not guarded against elect dying'),
    );
  };
  proc.once('exit', onExit);

  return {
    arm: (pgid) => send(pgid),
    disarm: () => void send(0),
    close: () => {
      if (closed) return;
      closed = true;
      void send(0);
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
