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
 * group and session, that waits for one line on a pipe from `elect` — the
 * fencing token of the term, which it exports as ELECT_TOKEN — closes the
 * pipe, and only then execs the command in its own place (same pid, same
 * group; no shell left behind, no shell parsing of the arguments). `elect`
 * opens the gate after the watchdog has the group id. If `elect` dies before
 * that, the kernel closes the pipe, the gate reads end of file and exits: the
 * command never starts.
 *
 * As the gate runs nothing until it is opened, `elect` forks it while it
 * campaigns (`Gates`): a fork of a Node process takes 5-10 ms and more on a
 * busy machine, and it is then off the path from elected to running.
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

/** How a gate (or the command it became) ended, or why it could not be started. */
export type GateExit = { code: number | null; signal: NodeJS.Signals | null } | { error: NodeJS.ErrnoException };

/** The descriptor of the gate in the command's process, until it execs. */
export const gateFd = 3;

// $0 is the command's path, "$@" its arguments. `read` fails at end of file:
// `elect` died before opening the gate, or let it go unopened.
// The token is read into a name of our own, not one the command may use.
const script = `IFS= read -r elect_gate_token <&${gateFd} || exit 1
exec ${gateFd}<&-
ELECT_TOKEN=$elect_gate_token
export ELECT_TOKEN
exec "$0" "$@"`;

export interface Gated {
  /** The process that becomes the command: its pid is the group id. Undefined if the spawn failed. */
  child: ChildProcess;
  /** Resolves when the gate (or the command it became) has exited, or could not be started. */
  exit: Promise<GateExit>;
  /** Whether it has exited already (then it will never run the command). */
  readonly ended: boolean;
  /** Lets the command start with ELECT_TOKEN=`token`. Harmless if the gate process is already gone (a forwarded signal ended it). */
  open(token: bigint): void;
  /** Lets the gate go unopened: it exits (status 1) without running anything. */
  close(): void;
}

/** Spawns `file` with `args` in a new session and group, held until `open()`. */
export function spawnGated(spawn: SpawnFn, file: string, args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Gated {
  const child = spawn('/bin/sh', ['-c', script, file, ...args], {
    cwd: options.cwd,
    env: options.env,
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    detached: true,
  });
  let ended = false;
  // Listened to from the spawn on: a gate that waits may die (or fail to
  // start) long before its term looks at it.
  const exit = new Promise<GateExit>((resolve) => {
    child.once('exit', (code, signal) => {
      ended = true;
      resolve({ code, signal });
    });
    child.once('error', (error) => {
      ended = true;
      resolve({ error });
    });
  });
  const gate = (child.stdio?.[gateFd] ?? null) as Writable | null;
  // EPIPE when the gate died before we opened it: its exit says how.
  gate?.on('error', () => {});
  return {
    child,
    exit,
    get ended() {
      return ended;
    },
    open: (token) => {
      gate?.end(`${token}\n`);
    },
    close: () => {
      gate?.end();
    },
  };
}

/**
 * The gate of the next term, forked while `elect` campaigns: `prepare()` as a
 * campaign starts, `take()` once elected, `close()` on the way out.
 */
export class Gates {
  #next: Gated | undefined;

  constructor(private readonly fork: () => Gated) {}

  /** Forks the next term's gate now, unless one is waiting. */
  prepare(): void {
    if (this.#next === undefined || this.#next.ended) this.#next = this.fork();
  }

  /** The waiting gate, or a fresh one if none waits (or it died meanwhile). */
  take(): Gated {
    const waiting = this.#next;
    this.#next = undefined;
    return waiting !== undefined && !waiting.ended ? waiting : this.fork();
  }

  /** Lets a waiting gate go unopened; resolves once it has exited. */
  async close(): Promise<void> {
    const waiting = this.#next;
    this.#next = undefined;
    if (waiting === undefined) return;
    waiting.close();
    await waiting.exit;
  }
}
