/**
 * `etcdctl elect` (Debian's etcd-client, API v3) as child processes: a
 * candidate (`etcdctl elect NAME PROPOSAL`) or an observer (`etcdctl elect -l
 * NAME`). Both print `key` and `value` lines for each leader they report.
 * Stopped with SIGINT (etcdctl then resigns, deleting its key) and, if need
 * be, SIGKILL — always by the PID we started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { scaled } from '@elect/test';

export interface Reported {
  key: string;
  value: string;
}

export class Etcdctl {
  /** Every (key, value) pair printed so far. */
  readonly reported: Reported[] = [];
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private pending = '';
  private lines: string[] = [];
  private waiters: (() => void)[] = [];
  stderr = '';

  private constructor(endpoint: string, args: string[]) {
    this.child = spawn('etcdctl', [`--endpoints=${endpoint}`, 'elect', ...args], {
      env: { ...process.env, ETCDCTL_API: '3' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.read(chunk));
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
  }

  static candidate(endpoint: string, name: string, proposal: string): Etcdctl {
    return new Etcdctl(endpoint, [name, proposal]);
  }

  static observer(endpoint: string, name: string): Etcdctl {
    return new Etcdctl(endpoint, ['-l', name]);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Waits until a reported leader matches. */
  async until(match: (r: Reported) => boolean, what: string, ms = 15_000): Promise<Reported> {
    const limit = Date.now() + scaled(ms);
    for (;;) {
      const found = this.reported.find(match);
      if (found) return found;
      if (this.child.exitCode !== null) throw new Error(`etcdctl exited (${this.child.exitCode}) before ${what}: ${this.stderr}`);
      const left = limit - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for etcdctl to report ${what}; it reported ${JSON.stringify(this.reported)}; stderr: ${this.stderr}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** SIGINT (etcdctl resigns and exits), then SIGKILL if it lingers. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGINT');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), scaled(5000));
    await this.exited;
    clearTimeout(timer);
  }

  private read(chunk: string): void {
    this.pending += chunk;
    const parts = this.pending.split('\n');
    this.pending = parts.pop() ?? '';
    this.lines.push(...parts);
    // Leaders come as two lines: key, then value (our values are one line).
    while (this.lines.length >= 2) {
      const [key, value] = this.lines.splice(0, 2) as [string, string];
      this.reported.push({ key, value });
    }
    for (const wake of this.waiters.splice(0)) wake();
  }
}
