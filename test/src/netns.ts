/**
 * Network partitions for real: a private network namespace in which every
 * server gets its own loopback address (127.0.0.2, .3, …) and nftables drops
 * the traffic between chosen addresses. Root only.
 *
 * Why the uid trick: inside one namespace, the kernel picks 127.0.0.1 as the
 * source of every loopback connection, whatever address the sender listens
 * on, so "drop .2 ↔ .3" would match nothing. Each address therefore comes with
 * its own uid (40000 + last octet); processes bound to an address run as that
 * uid (setpriv), and a postrouting rule rewrites their source address
 * (`meta skuid U snat to A`). The cut rules sit in prerouting before
 * conntrack, so they see every packet of both directions as sent.
 *
 * The test process stays in the machine's namespace and reaches servers
 * through bridges: a root-side TCP proxy that forwards over a Unix socket
 * (filesystem sockets cross network namespaces) to a forwarder process inside
 * the namespace. Bridged clients appear inside as 127.0.0.1, which `isolate`
 * leaves connected so that tests can watch what an isolated member does.
 */
import { type ChildProcess, type SpawnOptions, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Janitor, scriptPath } from './janitor.js';
import { logTail } from './member.js';
import { type Member, type Proxy, startProxy, waitUntil, withTimeout } from '@elect/testcontainers';

/** Where the bridges' and default clients' connections come from inside the namespace. */
export const BRIDGE_ADDRESS = '127.0.0.1';

/** A member, or a plain address inside the namespace. */
export type Endpoint = Member | string;

/** Runs a command to completion; rejects with its stderr when it fails. */
async function run(command: string, args: readonly string[], input?: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} failed (${code}): ${stderr.trim()}`)),
    );
    if (input !== undefined) {
      child.stdin!.on('error', () => {}); // an early exit is reported by 'close' with its stderr
      child.stdin!.end(input);
    }
  });
}

let unavailable: string | undefined | null = null; // null: not probed yet

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => fs.existsSync(path.join(dir, command)));
}

export class NetworkNamespace {
  readonly name: string;
  /** A temp directory for the bridges' sockets. */
  readonly dir: string;
  readonly #janitor: Janitor;
  readonly #servers = new Set<string>();
  readonly #cuts = new Map<string, [string, string]>();
  #nextOctet = 2;
  #closed: Promise<void> | undefined;

  private constructor(name: string, dir: string, janitor: Janitor) {
    this.name = name;
    this.dir = dir;
    this.#janitor = janitor;
  }

  /**
   * Why namespaces cannot be used here (for `describe.skip` messages), or
   * undefined when they can. Probes once by adding and deleting a namespace.
   */
  static unavailableReason(): string | undefined {
    if (unavailable !== null) return unavailable;
    if (process.getuid?.() !== 0) unavailable = 'needs root for network namespaces';
    else if (!['ip', 'nft', 'setpriv'].every(onPath)) {
      unavailable = 'needs ip (iproute2), nft (nftables) and setpriv (util-linux) for network namespaces';
    } else {
      const probe = `elect-probe-${randomBytes(4).toString('hex')}`;
      try {
        execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
        execFileSync('ip', ['netns', 'delete', probe], { stdio: 'pipe' });
        unavailable = undefined;
      } catch (error) {
        unavailable = `cannot create network namespaces here (${(error as Error).message.split('\n')[0]})`;
      }
    }
    return unavailable;
  }

  /** Creates `elect-<random>` (with `ELECT_TEST_RUN_TAG` if set) with loopback up. */
  static async create(): Promise<NetworkNamespace> {
    const reason = NetworkNamespace.unavailableReason();
    if (reason !== undefined) throw new Error(reason);
    const tag = process.env.ELECT_TEST_RUN_TAG;
    const name = `elect-${tag ? `${tag}-` : ''}${randomBytes(4).toString('hex')}`;
    const janitor = await Janitor.start(`network namespace ${name}`);
    // Registered before they exist: a crash between the two steps still cleans up.
    janitor.deleteNetnsAtEnd(name);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'elect-test-ns-'));
    janitor.removeAtEnd(dir);
    const ns = new NetworkNamespace(name, dir, janitor);
    try {
      await run('ip', ['netns', 'add', name]);
      await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
      await ns.#nft('table ip elect_nat {\n chain post {\n  type nat hook postrouting priority srcnat; policy accept;\n }\n}\n');
    } catch (error) {
      await ns.close();
      throw error;
    }
    return ns;
  }

  #nft(script: string): Promise<void> {
    return run('ip', ['netns', 'exec', this.name, 'nft', '-f', '-'], script);
  }

  /** The uid whose connections leave from `address` (40000 + its last octet). */
  static uidFor(address: string): number {
    return 40000 + Number(address.split('.')[3]);
  }

  /**
   * A fresh loopback address inside the namespace. `server` addresses are
   * what `isolate()` cuts a member from; `client` addresses are for clients
   * started with `spawn(…, { address })`.
   */
  async allocateAddress(role: 'server' | 'client' = 'server'): Promise<string> {
    if (this.#nextOctet > 254) throw new Error(`${this.name} has no loopback addresses left`);
    const address = `127.0.0.${this.#nextOctet++}`;
    await this.#nft(`add rule ip elect_nat post meta skuid ${NetworkNamespace.uidFor(address)} snat to ${address}\n`);
    if (role === 'server') this.#servers.add(address);
    return address;
  }

  /**
   * `command args` as it must be run to execute inside the namespace, from
   * `address` when given (as that address's uid; pids stay the same: both
   * `ip netns exec` and `setpriv` exec).
   */
  wrap(command: string, args: readonly string[], address?: string): { command: string; args: string[] } {
    const identity =
      address === undefined
        ? []
        : ['setpriv', `--reuid=${NetworkNamespace.uidFor(address)}`, `--regid=${NetworkNamespace.uidFor(address)}`, '--clear-groups'];
    return { command: 'ip', args: ['netns', 'exec', this.name, ...identity, command, ...args] };
  }

  /**
   * Starts a client process inside the namespace (from `address`, or from
   * 127.0.0.1), in its own process group. It is killed when the namespace is
   * closed, or by the watchdog if the test process dies.
   */
  spawn(command: string, args: readonly string[], options: SpawnOptions & { address?: string } = {}): ChildProcess {
    const { address, ...spawnOptions } = options;
    const wrapped = this.wrap(command, args, address);
    const child = spawn(wrapped.command, wrapped.args, { stdio: 'pipe', ...spawnOptions, detached: true });
    const pid = child.pid;
    if (pid !== undefined) {
      this.#janitor.adopt(pid);
      child.once('exit', () => this.#janitor.release(pid));
    }
    return child;
  }

  /**
   * Makes `targets` (addresses inside the namespace) reachable from the test
   * process: one proxy each on 127.0.0.1 (which can also cut or blackhole).
   * `close()` stops the proxies and the forwarder.
   */
  async bridge(targets: ReadonlyArray<{ host: string; port: number }>): Promise<{ proxies: Proxy[]; close(): Promise<void> }> {
    const id = randomBytes(3).toString('hex');
    const sockets = targets.map((_, i) => path.join(this.dir, `${id}-${i}.sock`));
    const log = path.join(this.dir, `${id}.log`);
    const { command, args } = this.wrap(process.execPath, [
      scriptPath('forwarder.mjs'),
      ...targets.map((target, i) => `${sockets[i]}=${target.host}:${target.port}`),
    ]);
    const forwarder = await this.#janitor.spawn({ command, args, log, env: { PATH: process.env.PATH ?? '' } });
    const proxies: Proxy[] = [];
    const close = async (): Promise<void> => {
      await Promise.all(proxies.map((proxy) => proxy.close()));
      forwarder.signal('SIGKILL');
      await withTimeout(forwarder.exited, 10_000, `the bridge forwarder in ${this.name} to exit`);
    };
    try {
      await waitUntil(() => forwarder.hasExited ? Promise.reject(new Error(logTail(log))) : sockets.every((socket) => fs.existsSync(socket)), {
        timeoutMs: 10_000,
        what: `the bridge forwarder in ${this.name} to listen`,
      });
      for (const socket of sockets) proxies.push(await startProxy({ path: socket }));
    } catch (error) {
      await close();
      throw error;
    }
    return { proxies, close };
  }

  /** Drops all traffic between `a` and `b` (both directions, existing connections too) until `heal()`. */
  async partition(a: Endpoint, b: Endpoint): Promise<void> {
    const [x, y] = [innerHost(a), innerHost(b)].sort() as [string, string];
    this.#cuts.set(`${x}|${y}`, [x, y]);
    await this.#applyCuts();
  }

  /** Cuts `member` from every other server address of this namespace; clients on 127.0.0.1 keep reaching it. */
  async isolate(member: Endpoint): Promise<void> {
    const host = innerHost(member);
    for (const other of this.#servers) {
      if (other !== host) this.#cuts.set([host, other].sort().join('|'), [host, other]);
    }
    await this.#applyCuts();
  }

  /** Removes every cut. A no-op once the namespace is closed (handy in `afterEach`). */
  async heal(): Promise<void> {
    this.#cuts.clear();
    if (this.#closed === undefined) await this.#applyCuts();
  }

  // Replaces the whole cut table in one nft transaction (add+delete makes the delete safe).
  async #applyCuts(): Promise<void> {
    const rules = [...this.#cuts.values()].flatMap(([x, y]) => [
      `  ip saddr ${x} ip daddr ${y} counter drop`,
      `  ip saddr ${y} ip daddr ${x} counter drop`,
    ]);
    let script = 'table ip elect_cut\ndelete table ip elect_cut\n';
    if (rules.length > 0) {
      script += `table ip elect_cut {\n chain pre {\n  type filter hook prerouting priority raw; policy accept;\n${rules.join('\n')}\n }\n}\n`;
    }
    await this.#nft(script);
  }

  /** Kills everything started in the namespace, deletes it and its temp directory. Idempotent. */
  async close(): Promise<void> {
    this.#closed ??= this.#janitor.close();
    await this.#closed;
  }
}

/** The address of `endpoint` inside the namespace. */
export function innerHost(endpoint: Endpoint): string {
  if (typeof endpoint === 'string') return endpoint;
  return 'innerHost' in endpoint && typeof endpoint.innerHost === 'string' ? endpoint.innerHost : endpoint.host;
}
