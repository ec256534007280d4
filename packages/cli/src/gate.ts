/**
 * Starting the command only once the watchdog knows its group.
 *
 * The command's process group id is its pid, which exists only once it has
 * been forked; the watchdog (watchdog.ts) can only be told after that. Were
 * the command exec'd at once, `elect` could be SIGKILLed (or OOM-killed) after
 * the fork and before the watchdog heard of the group — and the command would
 * run on, unguarded, as a leader nobody elected. Under load that window is
 * not small: the command may run for a while before `elect` is scheduled
 * again.
 *
 * So the fork runs a gate first: a POSIX shell, already in the command's new
 * group and session, that waits for one line on a pipe from `elect`, closes
 * the pipe, and only then execs the command in its own place (same pid, same
 * group; no shell left behind, no shell parsing of the arguments). `elect`
 * opens the gate after the watchdog has the group id. If `elect` dies before
 * that, the kernel closes the pipe, the gate reads end of file and exits: the
 * command never starts.
 *
 * The gate is fd 3. Node marks every descriptor it inherits close-on-exec at
 * startup, so fd 3 was never passed on to the command, and the gate closes it
 * before the exec: the command gets stdin, stdout and stderr, as before.
 *
 * The command is exec'd by its resolved path, which is therefore its argv[0]
 * (a POSIX `exec` cannot set argv[0]). A failed exec (the file vanished after
 * the check before campaigning) exits 127, or 126, as the shell reports it.
 */
import type { ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import type { SpawnFn } from './deps.js';

/** The descriptor of the gate in the command's process, until it execs. */
export const gateFd = 3;

// $0 is the command's path, "$@" its arguments. `read` fails at end of file:
// `elect` died before opening the gate.
const script = `IFS= read -r go <&${gateFd} || exit 1
exec ${gateFd}<&-
exec "$0" "$@"`;

export interface Gated {
  /** The process that becomes the command: its pid is the group id. Undefined if the spawn failed. */
  child: ChildProcess;
  /** Lets the command start. Harmless if the gate process is already gone (a forwarded signal ended it). */
  open(): void;
}

/** Spawns `file` with `args` in a new session and group, held until `open()`. */
export function spawnGated(spawn: SpawnFn, file: string, args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Gated {
  const child = spawn('/bin/sh', ['-c', script, file, ...args], {
    cwd: options.cwd,
    env: options.env,
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    detached: true,
  });
  const gate = (child.stdio?.[gateFd] ?? null) as Writable | null;
  // EPIPE when the gate died before we opened it: its exit says how.
  gate?.on('error', () => {});
  return {
    child,
    open: () => {
      gate?.end('go\n');
    },
  };
}
