/**
 * Runs the real `elect` binary (bin/elect.js over its bundle, built by the global
 * setup) as a child process, and lets tests wait for what it says: stdout
 * lines (the worker's) and stderr log records (pino JSON). Waits are on
 * events with a deadline from the harness timing base, never on sleeps.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { scaled } from '@elect/test';
import { describeProcess, fdTarget, holdersOf, procStat } from './proc.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const electBin = path.resolve(here, '../../bin/elect.js');
export const workerScript = path.resolve(here, 'worker.sh');

export interface LogRecord {
  level: number;
  msg?: string;
  event?: string;
  [field: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const running = new Set<Elect>();
/** Every waiter re-checks whenever any `elect` says something or exits. */
const waiters = new Set<() => boolean>();
function wake(): void {
  for (const check of [...waiters]) check();
}

/**
 * Resolves with `probe()`'s first defined value, re-checked each time any
 * `elect` under test prints a line or exits; rejects after `ms` (base, scaled
 * by the harness timing base), or when `failIf()` returns a message.
 */
export function waitFor<T>(probe: () => T | undefined, what: string, ms: number, failIf: () => string | undefined = () => undefined): Promise<T> {
  const limit = scaled(ms);
  return new Promise<T>((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      waiters.delete(check);
    };
    const check = (): boolean => {
      const value = probe();
      if (value !== undefined) {
        done();
        resolve(value);
        return true;
      }
      const failure = failIf();
      if (failure !== undefined) {
        done();
        reject(new Error(`${what}: ${failure}`));
        return true;
      }
      return false;
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`timed out after ${limit} ms waiting for ${what}\n${[...running].map((e) => e.transcript()).join('\n')}`));
    }, limit);
    if (!check()) waiters.add(check);
  });
}

export class Elect {
  readonly proc: ChildProcess;
  readonly logs: LogRecord[] = [];
  readonly stdout: string[] = [];
  /** stderr lines that are not JSON (usage messages). */
  readonly stderr: string[] = [];
  readonly exited: Promise<Exit>;
  exit: Exit | undefined;
  /**
   * Its stdout and stderr (`socket:[…]`). Everything it starts inherits them,
   * so 'close' comes once `elect` and all it started are gone; if it does not,
   * these say who is left.
   */
  private readonly pipes: string[];

  constructor(
    readonly name: string,
    args: readonly string[],
    env: NodeJS.ProcessEnv = {},
    /** A command that runs `node elect …` for us (`unshare … --`); `proc` is then that command. */
    wrapper: readonly string[] = [],
  ) {
    const argv = [...wrapper, process.execPath, electBin, ...args];
    this.proc = spawn(argv[0] as string, argv.slice(1), {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(this);
    // spawn() returns once the child has exec'd: its fds 1 and 2 are set.
    const pid = this.proc.pid;
    this.pipes = pid === undefined ? [] : [1, 2].flatMap((fd) => fdTarget(pid, fd) ?? []);
    lines(this.proc.stdout, (line) => {
      this.stdout.push(line);
      wake();
    });
    lines(this.proc.stderr, (line) => {
      try {
        this.logs.push(JSON.parse(line) as LogRecord);
      } catch {
        this.stderr.push(line);
      }
      wake();
    });
    this.exited = new Promise((resolve) => {
      // 'close': exited *and* its pipes are drained, so every line is in.
      this.proc.once('close', (code, signal) => {
        this.exit = { code, signal };
        running.delete(this);
        wake();
        resolve(this.exit);
      });
    });
  }

  get pid(): number {
    return this.proc.pid as number;
  }

  /** The pid of the command `elect` started most recently (from its `started` log). */
  get childPid(): number | undefined {
    const started = this.events('started').at(-1);
    return started ? (started.child as number) : undefined;
  }

  kill(signal: NodeJS.Signals): void {
    if (this.exit === undefined) this.proc.kill(signal);
  }

  /**
   * SIGKILLs `elect` and waits (`ms`, scaled) until it and everything it
   * started are gone: its watchdog ends the command's group within moments.
   * Resolves with undefined when that happened, else with what was left —
   * which it then SIGKILLs by group, so that one leak does not hang the rest
   * of the run.
   */
  async killAndReap(ms = 5_000): Promise<string | undefined> {
    this.kill('SIGKILL');
    if (await settles(this.exited, scaled(ms))) return undefined;
    const holders = holdersOf(this.pipes).filter((pid) => pid !== process.pid);
    const report = [
      `${this.name} (pid ${this.pid}): not gone ${scaled(ms)} ms after SIGKILL (${this.proc.exitCode === null && this.proc.signalCode === null ? 'elect itself has not exited' : 'elect exited'});`,
      holders.length > 0
        ? `its stdout/stderr still held by:\n${holders.map((pid) => `  ${describeProcess(pid)}`).join('\n')}`
        : this.pipes.length > 0
          ? 'no process holds its stdout/stderr'
          : 'its stdout/stderr could not be identified',
    ].join(' ');
    const ours = procStat(process.pid)?.pgrp;
    for (const pid of holders) {
      // They hold this elect's stdout: they descend from it, so they are ours to end.
      const group = procStat(pid)?.pgrp;
      for (const target of group !== undefined && group > 1 && group !== ours ? [-group, pid] : [pid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    const cleaned = await settles(this.exited, scaled(ms));
    return `${report}\n  (SIGKILLed those groups: ${cleaned ? 'then it closed' : 'still not closed'})\n${this.transcript()}`;
  }

  /** Our own log records (not the backend's, which carry `component`) with this `event`. */
  events(event: string): LogRecord[] {
    return this.logs.filter((r) => r.event === event && r.component === undefined);
  }

  /** Resolves with the first log record (past or future) matching `match`. */
  waitLog(match: (r: LogRecord) => boolean, what: string, ms = 15_000): Promise<LogRecord> {
    return this.until(() => this.logs.find(match), `${this.name}: log ${what}`, ms);
  }

  /** Resolves with the first stdout line (past or future) matching `match`. */
  waitLine(match: RegExp | ((line: string) => boolean), what: string, ms = 15_000): Promise<string> {
    const test = typeof match === 'function' ? match : (line: string) => match.test(line);
    return this.until(() => this.stdout.find(test), `${this.name}: stdout ${what}`, ms);
  }

  /** Resolves with how `elect` ended. */
  waitExit(ms = 15_000): Promise<Exit> {
    return this.until(() => this.exit, `${this.name}: exit`, ms, true);
  }

  /** Everything it said, for failure messages. */
  transcript(): string {
    const logs = this.logs.map((r) => `${r.event ?? ''} ${r.msg ?? ''} ${JSON.stringify(r)}`);
    return [`--- ${this.name} (pid ${this.pid}) exit=${JSON.stringify(this.exit)}`, ...this.stdout.map((l) => `out: ${l}`), ...this.stderr.map((l) => `err: ${l}`), ...logs].join('\n');
  }

  private until<T>(probe: () => T | undefined, what: string, ms: number, evenAfterExit = false): Promise<T> {
    return waitFor(probe, what, ms, () =>
      !evenAfterExit && this.exit !== undefined ? `elect exited first (${JSON.stringify(this.exit)})\n${this.transcript()}` : undefined,
    );
  }
}

function lines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  let rest = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    for (const part of parts) onLine(part);
  });
  stream?.on('end', () => {
    if (rest !== '') onLine(rest);
  });
}

/** Runs `elect` to completion (inspection commands, usage errors). */
export async function electOnce(args: readonly string[], env: NodeJS.ProcessEnv = {}, ms = 20_000): Promise<Elect & { exit: Exit }> {
  const elect = new Elect(`elect ${args[0] ?? ''}`, args, env);
  await elect.waitExit(ms);
  return elect as Elect & { exit: Exit };
}

/**
 * SIGKILLs every `elect` a test left running; their watchdogs take their
 * commands. Fails, naming what was left, if any of them is not entirely gone
 * within a bounded time (see `Elect.killAndReap`).
 */
export async function killAllElects(): Promise<void> {
  const left = (await Promise.all([...running].map((elect) => elect.killAndReap()))).filter((report) => report !== undefined);
  if (left.length > 0) throw new Error(`SIGKILLed elect left processes behind (the watchdog should have ended them):\n${left.join('\n')}`);
}

/** True if `promise` settles within `ms` (already scaled). */
async function settles(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves once `elect candidates` (with `args`: backend, connect, election)
 * lists exactly `ids`, in order. A candidate logs `campaigning` before its
 * entry reaches the server, so tests that need it queued ask the server.
 */
export async function waitQueued(args: readonly string[], ids: readonly string[], ms = 15_000): Promise<void> {
  const until = Date.now() + scaled(ms);
  let seen: string[] = [];
  while (Date.now() < until) {
    const result = await electOnce(['candidates', ...args, '--json']);
    seen = (JSON.parse(result.stdout.join('') || '[]') as { id: string }[]).map((c) => c.id);
    if (seen.join(',') === ids.join(',')) return;
  }
  throw new Error(`the queue never became ${ids.join(',')} (last seen: ${seen.join(',')})`);
}
