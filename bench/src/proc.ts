/**
 * Candidate processes: each started in its own process group, its stdout read
 * line by line and every line stamped with `performance.now()` the moment it
 * arrives. Every process is registered with the harness's janitor, so that a
 * bench that dies (even by SIGKILL) leaves none behind; `stopAll()` is the
 * normal path. Also reads a process tree's RSS and CPU time from /proc.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Janitor } from '@elect/test';

export interface SpawnSpec {
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
}

/** A line a candidate printed, with its arrival time. */
export interface Line {
  proc: Proc;
  text: string;
  at: number;
}

/** Every line of every candidate goes through here, so a wait can start before the line it waits for. */
export const lines = new EventEmitter<{ line: [Line] }>();
lines.setMaxListeners(0);

const live = new Set<Proc>();

export class Proc {
  readonly pid: number;
  readonly startedAt: number;
  readonly exited: Promise<void>;
  hasExited = false;
  /** When the exit was seen (performance.now()). */
  exitedAt = NaN;
  readonly #child: ChildProcessByStdio<Writable, Readable, null>;
  /** Every pid seen under this one, so that nothing it started outlives the bench. */
  readonly #seen = new Set<number>();

  constructor(spec: SpawnSpec, janitor: Janitor, readonly candidates: number, readonly label: string) {
    this.startedAt = performance.now();
    this.#child = spawn(spec.command, spec.args, { stdio: ['pipe', 'pipe', 'ignore'], detached: true, env: spec.env ?? process.env });
    if (this.#child.pid === undefined) throw new Error(`could not start ${spec.command}`);
    this.pid = this.#child.pid;
    janitor.adopt(this.pid);
    live.add(this);
    this.#child.stdin.on('error', () => {}); // a candidate that exits before reading it
    readline.createInterface({ input: this.#child.stdout }).on('line', (text) => {
      lines.emit('line', { proc: this, text, at: performance.now() });
    });
    this.exited = new Promise((resolve) => {
      this.#child.once('exit', () => {
        this.exitedAt = performance.now();
        this.hasExited = true;
        live.delete(this);
        janitor.release(this.pid);
        resolve();
      });
    });
  }

  /**
   * Sends `signal` to the process only (`group`: to its whole process group).
   * Does not look for descendants (that reads all of /proc, which would land
   * inside a timed window): call `tree()` first where they matter.
   */
  signal(signal: NodeJS.Signals, target: 'pid' | 'group' = 'pid'): void {
    if (this.hasExited) return;
    try {
      process.kill(target === 'group' ? -this.pid : this.pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }

  /** Writes one line to the candidate's stdin (`resign` for the multi-candidate programs). */
  tell(text: string): void {
    this.#child.stdin.write(`${text}\n`);
  }

  /** Resolves once exited; SIGKILLs the group (and anything it left) after `ms`. */
  async waitExit(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
    await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (!this.hasExited) this.kill();
    await this.exited;
    this.#killLeftovers();
  }

  /** SIGKILL to the group and to everything seen under it. */
  kill(): void {
    this.signal('SIGKILL', 'group');
    this.#killLeftovers();
  }

  /** The pids of this process and its descendants (live ones). */
  tree(): number[] {
    const found = descendants(this.pid);
    for (const pid of found) this.#seen.add(pid);
    return found;
  }

  #killLeftovers(): void {
    for (const pid of this.#seen) {
      if (pid === this.pid) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    this.#seen.clear();
  }
}

/** Ends every candidate still running (SIGTERM, then SIGKILL after `graceMs`). */
export async function stopAll(graceMs = 3000): Promise<void> {
  const running = [...live];
  for (const proc of running) proc.tree();
  for (const proc of running) proc.signal('SIGTERM', 'group');
  await Promise.all(running.map((proc) => proc.waitExit(graceMs)));
}

/** The first line printed after `since` by a process `accept` takes; rejects after `timeoutMs`. */
export async function nextLine(since: number, timeoutMs: number, accept: (line: Line) => boolean = () => true): Promise<Line> {
  return await new Promise((resolve, reject) => {
    const onLine = (line: Line): void => {
      if (line.at < since || !accept(line)) return;
      done();
      resolve(line);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no candidate printed within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      lines.off('line', onLine);
    };
    lines.on('line', onLine);
  });
}

function children(): Map<number, number[]> {
  const byParent = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat === undefined) continue;
    const list = byParent.get(stat.ppid) ?? [];
    list.push(Number(entry));
    byParent.set(stat.ppid, list);
  }
  return byParent;
}

/** `pid` and all its live descendants. */
export function descendants(pid: number): number[] {
  const byParent = children();
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift()!;
    if (readStat(next) === undefined) continue;
    found.push(next);
    queue.push(...(byParent.get(next) ?? []));
  }
  return found;
}

interface Stat {
  comm: string;
  ppid: number;
  /** utime + stime, in clock ticks. */
  cpuTicks: number;
}

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm is in parentheses and may itself hold spaces or parentheses.
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const fields = text.slice(close + 2).split(' ');
  // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
  if (fields[0] === 'Z') return undefined;
  return { comm, ppid: Number(fields[1]), cpuTicks: Number(fields[11]) + Number(fields[12]) };
}

/** A `Name: N kB` line of a /proc file, in KiB (0 once the process is gone). */
function procKiB(file: string, name: string): number {
  try {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(file, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

const rssKiB = (pid: number): number => procKiB(`/proc/${pid}/status`, 'VmRSS');

/**
 * The process's private memory: its anonymous pages (heap, stacks, what it
 * allocated). RSS also counts the pages of the files it maps — for a Node
 * process, some 33 MiB of the `node` binary that every Node process on the
 * machine shares.
 */
const anonKiB = (pid: number): number => procKiB(`/proc/${pid}/smaps_rollup`, 'Anonymous');
/** smaps_rollup is Linux ≥ 4.14; without it private memory is not known (NaN, printed as such). */
const hasSmapsRollup = fs.existsSync('/proc/self/smaps_rollup');

/** Linux's USER_HZ: the unit of utime/stime in /proc/<pid>/stat (100 on every mainstream kernel). */
const TICK_MS = 10;

export interface Usage {
  rssMiB: number;
  /** Anonymous (private) pages, MiB. */
  anonMiB: number;
  cpuMs: number;
}

/**
 * RSS and CPU time of a candidate: the process and everything it started,
 * except the payload command (`sleep`, what the CLI and `etcdctl lock` run
 * while leading), which is the user's, not the tool's.
 */
export function usage(proc: Proc): Usage {
  let rss = 0;
  let anon = 0;
  let ticks = 0;
  for (const pid of proc.tree()) {
    const stat = readStat(pid);
    if (stat === undefined || stat.comm === 'sleep') continue;
    rss += rssKiB(pid);
    anon += anonKiB(pid);
    ticks += stat.cpuTicks;
  }
  return { rssMiB: rss / 1024, anonMiB: hasSmapsRollup ? anon / 1024 : NaN, cpuMs: ticks * TICK_MS };
}
