/**
 * One server process (a ZooKeeper peer or an etcd member) of the process
 * runtime: the faults of the `Member` interface as signals to its process
 * group, and readiness as a real request (`probe`), never a sleep.
 */
import fs from 'node:fs';
import type { Janitor, Spawned } from './janitor.js';
import { type Member, TimeoutError, waitUntil, withTimeout } from '@elect/testcontainers';

export interface ProcessMemberOptions {
  name: string;
  /** Where the test process reaches the member (a bridge when it runs in a network namespace). */
  host: string;
  clientPort: number;
  /** Where the member listens in its own network (equal to host/clientPort outside a namespace). */
  innerHost: string;
  innerPort: number;
  /** The member's own directory (config, data, log). */
  dir: string;
  log: string;
  janitor: Janitor;
  command: string;
  args: readonly string[];
  /** One real request; resolves true once the member serves. */
  probe: () => Promise<boolean>;
  /** Base budget for a start (scaled). */
  startTimeoutMs: number;
}

/** The last `lines` lines of a log file, for error messages. */
export function logTail(file: string, lines = 25): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** The scheduler state letter of a pid from /proc (R, S, T, Z, …), or undefined if it is gone. */
function procState(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2);
  } catch {
    return undefined;
  }
}

export class ProcessMember implements Member {
  readonly name: string;
  readonly host: string;
  readonly clientPort: number;
  readonly innerHost: string;
  readonly innerPort: number;
  readonly dir: string;
  readonly log: string;
  readonly #options: ProcessMemberOptions;
  #process: Spawned | undefined;
  #paused = false;

  constructor(options: ProcessMemberOptions) {
    this.#options = options;
    this.name = options.name;
    this.host = options.host;
    this.clientPort = options.clientPort;
    this.innerHost = options.innerHost;
    this.innerPort = options.innerPort;
    this.dir = options.dir;
    this.log = options.log;
  }

  get clientAddress(): string {
    return `${this.host}:${this.clientPort}`;
  }

  /** `host:port` inside the member's network (for clients started with `NetworkNamespace.spawn`). */
  get innerAddress(): string {
    return `${this.innerHost}:${this.innerPort}`;
  }

  get pid(): number | undefined {
    return this.running ? this.#process?.pid : undefined;
  }

  get running(): boolean {
    return this.#process !== undefined && !this.#process.hasExited;
  }

  get paused(): boolean {
    return this.running && this.#paused;
  }

  /** Starts the process without waiting for it to serve (an ensemble serves only once a quorum runs). */
  async launch(): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running`);
    this.#paused = false;
    this.#process = await this.#options.janitor.spawn({
      command: this.#options.command,
      args: this.#options.args,
      log: this.log,
      cwd: this.dir,
    });
  }

  /** Resolves once the member answers a real request; rejects early if the process exits. */
  async waitReady(): Promise<void> {
    const proc = this.#process;
    if (proc === undefined || proc.hasExited) throw new Error(`${this.name} is not running`);
    const exited = new AbortController();
    void proc.exited.then((status) =>
      exited.abort(
        new Error(
          `${this.name} exited while starting (code ${status.code}, signal ${status.signal}); log ${this.log}:\n${logTail(this.log)}`,
        ),
      ),
    );
    try {
      await waitUntil(() => this.#options.probe(), {
        timeoutMs: this.#options.startTimeoutMs,
        what: `${this.name} (${this.clientAddress}) to serve`,
        signal: exited.signal,
      });
    } catch (error) {
      if (error instanceof TimeoutError) {
        throw new Error(`${error.message}; log ${this.log}:\n${logTail(this.log)}`, { cause: error });
      }
      throw error;
    }
  }

  async start(): Promise<void> {
    await this.launch();
    await this.waitReady();
  }

  async stop(): Promise<void> {
    const proc = this.#process;
    if (proc === undefined || proc.hasExited) return;
    proc.signal('SIGTERM');
    if (this.#paused) proc.signal('SIGCONT'); // a stopped process handles SIGTERM only once continued
    try {
      await withTimeout(proc.exited, 15_000, `${this.name} to stop after SIGTERM`);
    } catch {
      proc.signal('SIGKILL');
      await withTimeout(proc.exited, 10_000, `${this.name} to die after SIGKILL`);
    }
  }

  async kill(): Promise<void> {
    const proc = this.#process;
    if (proc === undefined || proc.hasExited) return;
    proc.signal('SIGKILL');
    await withTimeout(proc.exited, 10_000, `${this.name} to die after SIGKILL`);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** SIGSTOP; resolves once the kernel reports the process stopped. */
  async pause(): Promise<void> {
    const proc = this.#process;
    if (proc === undefined || proc.hasExited) throw new Error(`${this.name} is not running`);
    proc.signal('SIGSTOP');
    this.#paused = true;
    await waitUntil(() => ['T', undefined].includes(procState(proc.pid)), {
      timeoutMs: 5000,
      what: `${this.name} to stop (SIGSTOP)`,
      intervalMs: 5,
    });
  }

  /** SIGCONT; resolves once the kernel reports the process runnable again. */
  async resume(): Promise<void> {
    const proc = this.#process;
    if (proc === undefined || proc.hasExited) throw new Error(`${this.name} is not running`);
    proc.signal('SIGCONT');
    this.#paused = false;
    await waitUntil(() => procState(proc.pid) !== 'T', { timeoutMs: 5000, what: `${this.name} to continue`, intervalMs: 5 });
  }
}
