/**
 * The soak's candidate processes: library candidates (candidate.ts) and
 * `elect run` around the store worker (worker.ts), each behind its own TCP
 * proxies so that one candidate's network can be cut alone. A candidate that
 * exits is started again (same id) until the soak stops.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProxy, type Janitor, type Proxy } from '@elect/test';
import type { CandidateConfig } from './candidate.js';

// Candidates run from the built package (dist/), also when this file is loaded from src/ by the tests.
const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist');
const electBin = path.resolve(path.dirname(createRequire(import.meta.url).resolve('@elect/cli')), '../bin/elect.js');

export type Backend = 'zk' | 'etcd';
export type CandidateKind = 'library' | 'run';

export interface CandidateSettings {
  /** Every candidate process is adopted by it (killed should the soak die). */
  janitor: Janitor;
  backend: Backend;
  /** The servers' client addresses, `host:port` each. */
  addresses: readonly string[];
  election: string;
  ttlMs: number;
  store: string;
  writeEveryMs: number;
  /** The control: library candidates that write on for this long after a loss. */
  unsafeMs?: number;
  /** A priority election: the candidate's priority (and whether it preempts); none: a plain election. */
  priority?: number;
  preempt?: boolean;
}

export class Candidate {
  proc: ChildProcess | undefined;
  /** The latest zk session id or etcd lease (hex) this candidate's library reported. */
  session: string | undefined;
  /** Every session / lease it ever reported (for the leftover check). */
  readonly sessions = new Set<string>();
  /** Its last lines of log, for a report when something goes wrong. */
  readonly tail: string[] = [];
  private stopping = false;
  private exited: Promise<void> = Promise.resolve();
  private restarts = 0;

  private constructor(
    readonly id: string,
    readonly kind: CandidateKind,
    private readonly settings: CandidateSettings,
    readonly proxies: readonly Proxy[],
  ) {}

  static async start(id: string, kind: CandidateKind, settings: CandidateSettings): Promise<Candidate> {
    const proxies: Proxy[] = [];
    for (const address of settings.addresses) {
      const at = address.lastIndexOf(':');
      proxies.push(await startProxy({ host: address.slice(0, at), port: Number(address.slice(at + 1)) }));
    }
    const candidate = new Candidate(id, kind, settings, proxies);
    candidate.spawn();
    return candidate;
  }

  get pid(): number | undefined {
    return this.proc?.exitCode === null && this.proc.signalCode === null ? this.proc.pid : undefined;
  }

  get restarted(): number {
    return this.restarts;
  }

  /** Every process of this candidate: itself and its descendants (elect's watchdog, command, sleeps). */
  tree(): number[] {
    const root = this.pid;
    if (root === undefined) return [];
    const parents = new Map<number, number[]>();
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        parents.set(ppid, [...(parents.get(ppid) ?? []), Number(name)]);
      } catch {
        // gone while we looked
      }
    }
    const out: number[] = [];
    const walk = (pid: number): void => {
      out.push(pid);
      for (const child of parents.get(pid) ?? []) walk(child);
    };
    walk(root);
    return out;
  }

  signal(signal: NodeJS.Signals, pids: readonly number[] = this.pid === undefined ? [] : [this.pid]): void {
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
  }

  cut(): void {
    for (const proxy of this.proxies) proxy.cut();
  }

  blackhole(): void {
    for (const proxy of this.proxies) proxy.blackhole();
  }

  heal(): void {
    for (const proxy of this.proxies) proxy.heal();
  }

  /** SIGTERM, and waits for the exit (SIGKILL after `ms`); no restart. */
  async stop(ms: number): Promise<void> {
    this.stopping = true;
    this.signal('SIGCONT', this.tree());
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), ms);
    await this.exited;
    clearTimeout(timer);
    await Promise.all(this.proxies.map((proxy) => proxy.close()));
  }

  private connectString(): string {
    const addresses = this.proxies.map((proxy) => proxy.address);
    return this.settings.backend === 'zk' ? addresses.join(',') : addresses.map((a) => `http://${a}`).join(',');
  }

  private spawn(): void {
    const s = this.settings;
    let proc: ChildProcess;
    if (this.kind === 'library') {
      const config: CandidateConfig = {
        backend: s.backend,
        connect: this.connectString(),
        election: s.election,
        id: this.id,
        ttlMs: s.ttlMs,
        store: s.store,
        writeEveryMs: s.writeEveryMs,
        ...(s.unsafeMs === undefined ? {} : { unsafeMs: s.unsafeMs }),
        ...(s.priority === undefined ? {} : { priority: s.priority, preempt: s.preempt === true }),
      };
      proc = spawn(process.execPath, [path.join(dist, 'candidate.js'), JSON.stringify(config)], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    } else {
      const args = [electBin, '-b', s.backend, '-c', this.connectString(), '-e', s.election, '--id', this.id, '--ttl', `${s.ttlMs}ms`];
      if (s.priority !== undefined) args.push('--priority', String(s.priority), ...(s.preempt ? ['--preempt'] : []));
      args.push('--grace', `${Math.min(200, Math.floor(s.ttlMs / 10))}ms`, '--rejoin', '--log-level', 'info', '--', process.execPath, path.join(dist, 'worker.js'));
      proc = spawn(process.execPath, args, {
        stdio: ['ignore', 'ignore', 'pipe'],
        detached: true,
        env: { ...process.env, CHAOS_STORE: s.store, CHAOS_WRITE_EVERY_MS: String(s.writeEveryMs) },
      });
    }
    this.proc = proc;
    const pid = proc.pid;
    if (pid !== undefined) s.janitor.adopt(pid);
    let buffered = '';
    proc.stderr?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      for (let at = buffered.indexOf('\n'); at >= 0; at = buffered.indexOf('\n')) {
        this.line(buffered.slice(0, at));
        buffered = buffered.slice(at + 1);
      }
    });
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        if (pid !== undefined) s.janitor.release(pid);
        this.line(JSON.stringify({ event: 'process-exit', code, signal }));
        if (!this.stopping) {
          this.restarts += 1;
          this.spawn();
        }
        resolve();
      });
    });
  }

  private line(text: string): void {
    this.tail.push(text);
    if (this.tail.length > 200) this.tail.shift();
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    // zk names its session on connecting; etcd its lease when the first campaign opens it.
    const opened = record.event === 'connected' || record.event === 'session-opened' || record.event === 'session-replaced';
    const session = opened ? (record.session ?? record.lease) : undefined;
    if (typeof session === 'string') {
      this.session = session;
      this.sessions.add(session);
    }
  }
}
