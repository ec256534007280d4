/**
 * The test-process side of the watchdog (watchdog.mjs): every server process,
 * temp directory and network namespace the harness creates is registered with
 * a janitor, so that it is removed
 *   - by `close()` on the normal path,
 *   - by the watchdog process whenever the test process goes away without
 *     closing — it forgot, it exited, or it was SIGKILLed or OOM-killed: the
 *     kernel closes the watchdog's stdin pipe and the watchdog cleans up,
 *   - by an `exit` hook, synchronously, in plain Node processes (scripts,
 *     benchmarks). Under jest that hook never runs — test modules get a copy
 *     of `process` whose `exit` listeners are not called — and the watchdog
 *     does the job within milliseconds of the worker's exit.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import type { Socket } from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { withTimeout } from '@elect/testcontainers';

/** Absolute path of one of the harness's plain-JS helper scripts (also from a build in dist/). */
export function scriptPath(name: string): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, name), path.join(here, '..', 'src', name)];
  const found = candidates.find((candidate) => fs.existsSync(candidate));
  if (found === undefined) throw new Error(`harness script ${name} not found next to ${here}`);
  return found;
}

export interface SpawnSpec {
  command: string;
  args: readonly string[];
  /** stdout and stderr of the process are appended here. */
  log: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export interface ExitStatus {
  code: number | null;
  signal: string | null;
}

/** A process started through a janitor, in its own process group (pgid = pid). */
export interface Spawned {
  readonly pid: number;
  /**
   * Resolves once the process has exited and been reaped. Await it under a
   * timer (`withTimeout`): the watchdog's pipes alone do not keep Node running.
   */
  readonly exited: Promise<ExitStatus>;
  readonly hasExited: boolean;
  /** Signals the whole process group; a no-op once the process has exited. */
  signal(signal: NodeJS.Signals): void;
}

type Reply = { ready?: number; id?: number; pid?: number; error?: string; exit?: number } & Partial<ExitStatus>;

const open = new Set<Janitor>();
// Last resort when the test process exits without closing what it started.
function cleanupAtExit(): void {
  for (const janitor of open) janitor.cleanupSync();
}

export class Janitor {
  readonly #watchdog: ChildProcess;
  readonly #requests = new Map<number, { resolve: (pid: number) => void; reject: (error: Error) => void }>();
  readonly #exits = new Map<number, (status: ExitStatus) => void>();
  readonly #live = new Set<number>();
  readonly #adopted = new Set<number>();
  readonly #paths = new Set<string>();
  readonly #namespaces = new Set<string>();
  readonly #gone: Promise<void>;
  #nextId = 1;
  #closed = false;

  private constructor(watchdog: ChildProcess, readonly what: string) {
    this.#watchdog = watchdog;
    this.#gone = new Promise((resolve) => watchdog.once('exit', () => resolve()));
  }

  /** Starts a watchdog process for `what` (a name used in error messages). */
  static async start(what: string): Promise<Janitor> {
    const env = { ...process.env };
    delete env.NODE_OPTIONS; // jest's --experimental-vm-modules is not for the watchdog
    const watchdog = spawn(process.execPath, [scriptPath('watchdog.mjs')], {
      detached: true, // own session: a group-kill of the test runner must not reach it
      stdio: ['pipe', 'pipe', 'ignore'],
      env,
    });
    const janitor = new Janitor(watchdog, what);
    const ready = new Promise<void>((resolve, reject) => {
      watchdog.once('error', reject);
      watchdog.once('exit', (code) => reject(new Error(`watchdog for ${what} exited early (${code})`)));
      readline.createInterface({ input: watchdog.stdout! }).on('line', (line) => {
        let reply: Reply;
        try {
          reply = JSON.parse(line) as Reply;
        } catch {
          return; // not ours to interpret
        }
        if (reply.ready !== undefined) resolve();
        else janitor.#onReply(reply);
      });
    });
    await withTimeout(ready, 10_000, `the watchdog for ${what} to start`);
    // The watchdog must not keep a finished test process alive (a forgotten
    // close() is the watchdog's to clean up). The price: its pipes do not keep
    // the event loop running, so every wait on a reply or an exit below carries
    // a timer (withTimeout), which does.
    watchdog.unref();
    (watchdog.stdin as Socket).unref();
    (watchdog.stdout as Socket).unref();
    if (open.size === 0) process.on('exit', cleanupAtExit);
    open.add(janitor);
    return janitor;
  }

  #send(message: object): void {
    if (this.#closed) throw new Error(`${this.what} is closed`);
    this.#watchdog.stdin!.write(`${JSON.stringify(message)}\n`);
  }

  #onReply(reply: Reply): void {
    if (reply.exit !== undefined) {
      this.#live.delete(reply.exit);
      this.#exits.get(reply.exit)?.({ code: reply.code ?? null, signal: reply.signal ?? null });
      this.#exits.delete(reply.exit);
      return;
    }
    const request = reply.id === undefined ? undefined : this.#requests.get(reply.id);
    if (request === undefined) return;
    this.#requests.delete(reply.id!);
    if (reply.pid !== undefined) request.resolve(reply.pid);
    else request.reject(new Error(reply.error ?? 'spawn failed'));
  }

  /** Starts `spec.command` in its own process group under this watchdog; resolves with its pid. */
  async spawn(spec: SpawnSpec): Promise<Spawned> {
    const id = this.#nextId++;
    const pidPromise = new Promise<number>((resolve, reject) => this.#requests.set(id, { resolve, reject }));
    this.#send({ op: 'spawn', id, command: spec.command, args: spec.args, log: spec.log, cwd: spec.cwd, env: spec.env });
    const pid = await withTimeout(pidPromise, 10_000, `${this.what} to spawn ${spec.command}`);
    this.#live.add(pid);
    let hasExited = false;
    const exited = new Promise<ExitStatus>((resolve) => {
      this.#exits.set(pid, (status) => {
        hasExited = true;
        resolve(status);
      });
    });
    const live = this.#live;
    return {
      pid,
      exited,
      get hasExited() {
        return hasExited;
      },
      signal(signal) {
        if (!live.has(pid)) return;
        try {
          process.kill(-pid, signal);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
        }
      },
    };
  }

  /** Also kill this process group (started elsewhere, e.g. by `NetworkNamespace.spawn`) at the end. */
  adopt(pid: number): void {
    this.#adopted.add(pid);
    this.#send({ op: 'adopt', pid });
  }

  release(pid: number): void {
    if (!this.#adopted.delete(pid) || this.#closed) return;
    this.#send({ op: 'release', pid });
  }

  /** Remove this directory (recursively) at the end. Must lie under an `elect-test-*` directory. */
  removeAtEnd(dir: string): void {
    this.#paths.add(dir);
    this.#send({ op: 'path', path: dir });
  }

  /** Delete this network namespace at the end. */
  deleteNetnsAtEnd(name: string): void {
    this.#namespaces.add(name);
    this.#send({ op: 'netns', name });
  }

  /**
   * Ends the watchdog's lifeline: it kills whatever still runs, removes the
   * registered directories and namespaces, and exits. Resolves once it has.
   * Idempotent.
   */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#watchdog.stdin!.end();
      for (const request of this.#requests.values()) request.reject(new Error(`${this.what} closed`));
      this.#requests.clear();
    }
    await withTimeout(this.#gone, 20_000, `the watchdog of ${this.what} to clean up`);
    // The watchdog reports every exit before it exits; this only settles stragglers.
    for (const settle of this.#exits.values()) settle({ code: null, signal: 'SIGKILL' });
    this.#exits.clear();
    this.#live.clear();
    open.delete(this);
    if (open.size === 0) process.off('exit', cleanupAtExit);
  }

  /** Synchronous best effort for the `exit` hook; the watchdog repeats it after reaping. */
  cleanupSync(): void {
    for (const pid of [...this.#live, ...this.#adopted]) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const name of this.#namespaces) {
      try {
        execFileSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
    for (const dir of this.#paths) fs.rmSync(dir, { recursive: true, force: true });
  }
}
