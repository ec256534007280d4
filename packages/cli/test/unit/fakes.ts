/**
 * Test doubles for the supervisor: a child process that exits when the test
 * (or a signal to its group) says so, a signal source the test can emit on,
 * and a watchdog that records what it was told.
 */
import { EventEmitter } from 'node:events';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import type { KillFn, SignalSource, SpawnFn, Watchdog } from '../../src/deps.js';
import { createLogger, type Logger } from '../../src/log.js';

export const quietLogger: Logger = createLogger('silent', { write: () => true }, false);

/** The gate's pipe (gate.ts): records when the command was let through, with which token, or that it was let go. */
export class FakeGate extends EventEmitter {
  opened = false;
  closed = false;
  /** The ELECT_TOKEN the command got. */
  token: string | undefined;
  /** What the gate's shell does when its pipe ends unopened: exit 1. */
  onLetGo: () => void = () => {};
  end(chunk?: string): this {
    if (chunk !== undefined && /^\d+\n$/.test(chunk)) {
      this.opened = true;
      this.token = chunk.trim();
    } else if (chunk === undefined) {
      this.closed = true;
      this.onLetGo();
    }
    return this;
  }
}

export class FakeChild extends EventEmitter {
  exited = false;
  constructor(
    readonly pid: number | undefined,
    readonly stdio: (FakeGate | null)[] = [],
  ) {
    super();
  }
  exit(code: number | null, signal: NodeJS.Signals | null = null): void {
    if (this.exited) return;
    this.exited = true;
    this.emit('exit', code, signal);
  }
}

export interface FakeGroupOptions {
  /** The child does not die on SIGTERM (it traps it). */
  ignoresTerm?: boolean;
  /** Processes left in the group after the child itself exits (until SIGTERM/SIGKILL). */
  leftovers?: 'none' | 'die-on-term' | 'ignore-term';
  /** spawn() fails as for a missing file (no pid, then an ENOENT error). */
  spawnFails?: boolean;
}

/** One fake process group: the child plus optional leftovers, driven by `kill`. */
export class FakeProcesses {
  readonly spawned: { file: string; args: readonly string[]; options: SpawnOptions }[] = [];
  readonly kills: [number, NodeJS.Signals | 0][] = [];
  /** The gate pipe of each spawn, if it had one. */
  readonly gates: (FakeGate | undefined)[] = [];
  child: FakeChild | undefined;
  private leftoversAlive = false;

  private readonly pid: number | undefined;

  constructor(private readonly options: FakeGroupOptions = {}) {
    this.pid = options.spawnFails ? undefined : 4242;
  }

  spawn: SpawnFn = (file, args, options) => {
    this.spawned.push({ file, args, options });
    const stdio = Array.isArray(options.stdio) ? options.stdio.map((s) => (s === 'pipe' ? new FakeGate() : null)) : [];
    this.gates.push(stdio.find((s) => s !== null));
    const child = new FakeChild(this.pid, stdio);
    const gate = stdio.find((s) => s !== null);
    if (gate) gate.onLetGo = () => setImmediate(() => child.exit(1));
    this.child = child;
    this.leftoversAlive = (this.options.leftovers ?? 'none') !== 'none';
    if (this.pid === undefined) {
      queueMicrotask(() => child.emit('error', Object.assign(new Error('spawn ENOENT'), { code: 'ENOENT' })));
    }
    return child as unknown as ChildProcess;
  };

  kill: KillFn = (pid, signal) => {
    this.kills.push([pid, signal]);
    const child = this.child;
    const alive = (child !== undefined && !child.exited) || this.leftoversAlive;
    if (pid !== -(this.pid ?? NaN) || !alive) throw Object.assign(new Error('kill ESRCH'), { code: 'ESRCH' });
    if (signal === 'SIGKILL') {
      this.leftoversAlive = false;
      setImmediate(() => child?.exit(null, 'SIGKILL'));
    } else if (signal === 'SIGTERM') {
      if (this.options.leftovers === 'die-on-term') this.leftoversAlive = false;
      if (!this.options.ignoresTerm) setImmediate(() => child?.exit(null, 'SIGTERM'));
    } else if (signal === 'SIGINT' || signal === 'SIGHUP' || signal === 'SIGQUIT' || signal === 'SIGUSR1' || signal === 'SIGUSR2') {
      // A well-behaved command: exits on these like on SIGTERM.
      setImmediate(() => child?.exit(null, signal));
    }
  };

  /** What the gate of the n-th spawn execs (gate.ts: `sh -c SCRIPT FILE ARGS...`), and whether it was let through. */
  command(n = 0): { argv: readonly string[]; opened: boolean } | undefined {
    const spawned = this.spawned[n];
    if (spawned === undefined) return undefined;
    return { argv: spawned.args.slice(2), opened: this.gates[n]?.opened === true };
  }

  /** Whether the gate of the n-th spawn let its command start (a gate is forked while elect campaigns). */
  started(n = 0): boolean {
    return this.gates[n]?.opened === true;
  }

  /** The environment the command of the n-th spawn runs with: the spawn's, and the token its gate was opened with. */
  commandEnv(n = 0): NodeJS.ProcessEnv | undefined {
    const spawned = this.spawned[n];
    const gate = this.gates[n];
    if (spawned === undefined || gate?.opened !== true) return undefined;
    return { ...spawned.options.env, ELECT_TOKEN: gate.token };
  }

  groupAlive(pgid: number): boolean {
    return pgid === this.pid && ((this.child !== undefined && !this.child.exited) || this.leftoversAlive);
  }

  signalsSent(): (NodeJS.Signals | 0)[] {
    return this.kills.map(([, signal]) => signal).filter((signal) => signal !== 0);
  }
}

export class FakeSignals extends EventEmitter implements SignalSource {
  send(signal: NodeJS.Signals): void {
    this.emit(signal, signal);
  }
}

export class FakeWatchdog implements Watchdog {
  readonly log: string[] = [];
  readonly held: number[] = [];
  readonly armedAt: (number | undefined)[] = [];
  arm(pgid: number, deadline?: number): Promise<void> {
    this.log.push(`arm ${pgid}`);
    this.armedAt.push(deadline);
    return Promise.resolve();
  }
  hold(deadline: number): void {
    this.held.push(deadline);
  }
  disarm(): void {
    this.log.push('disarm');
  }
  close(): void {
    this.log.push('close');
  }
}
