/**
 * The servers every tool runs against (the harness's, as local processes: a
 * standalone ZooKeeper with tickTime 200 — and no limit on connections from
 * one address, as every candidate connects from 127.0.0.1 — and one etcd
 * member), a queue reader
 * (elect's own `candidates()`, which reads the wire layout Curator and
 * etcdctl share), and the servers' own counters of watches fired.
 */
import type { Election } from '@elect/core';
import { connectEtcd } from '@elect/etcd';
import { type ProcessCluster, fourLetter, logTail, startEtcdProcess, startZooKeeperProcess } from '@elect/test';
import { connectZooKeeper } from '@elect/zk';
import zookeeper from 'node-zookeeper-client';
import type { Backend } from './tools.js';

interface Connection {
  election(name: string): Election;
  close(): Promise<void>;
}

export class Servers {
  private constructor(
    readonly zk: ProcessCluster | undefined,
    readonly etcd: ProcessCluster | undefined,
    readonly readers: Partial<Record<Backend, Connection>>,
    /** A plain client for what elect's API does not show: a znode's owner session. */
    readonly raw: zookeeper.Client | undefined,
  ) {}

  static async start(backends: readonly Backend[]): Promise<Servers> {
    const [zk, etcd] = await Promise.all([
      backends.includes('zk') ? startZooKeeperProcess({ size: 1, tickTimeMs: 200, maxClientConnections: 0 }) : undefined,
      backends.includes('etcd') ? startEtcdProcess({ size: 1 }) : undefined,
    ]);
    const readers: Partial<Record<Backend, Connection>> = {};
    if (zk) readers.zk = await connectZooKeeper({ connectString: zk.connectString, sessionTimeoutMs: 10_000 });
    if (etcd) readers.etcd = await connectEtcd({ endpoints: etcd.connectString, ttlMs: 10_000 });
    let raw: zookeeper.Client | undefined;
    if (zk) {
      raw = zookeeper.createClient(zk.connectString, { sessionTimeout: 10_000 });
      const connected = new Promise<void>((resolve) => raw!.once('connected', () => resolve()));
      raw.connect();
      await connected;
    }
    return new Servers(zk, etcd, readers, raw);
  }

  connect(backend: Backend): string {
    const cluster = backend === 'zk' ? this.zk : this.etcd;
    if (!cluster) throw new Error(`no ${backend} server started`);
    return cluster.connectString;
  }

  /** How many candidates are queued in `election` (leader included). */
  async queued(backend: Backend, election: string): Promise<number> {
    const reader = this.readers[backend];
    if (!reader) throw new Error(`no ${backend} server started`);
    const handle = reader.election(election);
    try {
      return (await handle.candidates()).length;
    } finally {
      await handle.close();
    }
  }

  /** The id the leader of `election` campaigned with, as the server has it (undefined: no leader). */
  async leaderId(backend: Backend, election: string): Promise<string | undefined> {
    const reader = this.readers[backend];
    if (!reader) throw new Error(`no ${backend} server started`);
    const handle = reader.election(election);
    try {
      return (await handle.leader())?.id;
    } finally {
      await handle.close();
    }
  }

  /** Polls until `election` holds `count` candidates; rejects after `timeoutMs`. */
  async waitQueued(backend: Backend, election: string, count: number, timeoutMs: number): Promise<void> {
    const until = performance.now() + timeoutMs;
    let seen = 0;
    while (performance.now() < until) {
      seen = await this.queued(backend, election);
      if (seen === count) return;
      await new Promise((resolve) => setTimeout(resolve, count > 100 ? 100 : 10));
    }
    throw new Error(`${election}: ${seen} of ${count} candidates queued after ${timeoutMs} ms`);
  }

  /**
   * Server-side wakes so far: ZooKeeper counts, per event, how many watches
   * it fired (`mntr`'s zk_sum_node_{created,deleted,changed,children}_watch_count);
   * etcd counts the events it sent to watchers (etcd_debugging_mvcc_events_total).
   * Also the watches held right now (zk_watch_count / etcd_debugging_mvcc_watcher_total).
   */
  async wakes(backend: Backend): Promise<{ fired: number; held: number }> {
    if (backend === 'zk') {
      const mntr = await fourLetter(this.zk!.members[0]!, 'mntr');
      const value = (key: string): number => Number(new RegExp(`^${key}\\s+(\\d+)`, 'm').exec(mntr)?.[1] ?? NaN);
      const fired = ['created', 'deleted', 'changed', 'children'].reduce((sum, kind) => sum + value(`zk_sum_node_${kind}_watch_count`), 0);
      return { fired, held: value('zk_watch_count') };
    }
    const text = await (await fetch(`${this.etcd!.endpoints[0]}/metrics`)).text();
    const value = (key: string): number => Number(new RegExp(`^${key} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
    return { fired: value('etcd_debugging_mvcc_events_total'), held: value('etcd_debugging_mvcc_watcher_total') };
  }

  /**
   * ZooKeeper: how many watches of *other* sessions ending the current leader
   * will fire — watches on the leader's znode or on the latch path's children,
   * held by sessions other than the one that owns the leader's znode (`wchc`).
   * The server's own counter (`wakes()`) also counts a watch the leaving
   * leader may hold on its own znode, which wakes no other candidate.
   */
  /**
   * A znode's stat through the bench's own ZooKeeper session, across a lost
   * connection: while a herd of `elect run` processes starts on two cores
   * that session's link can drop, and the request then fails with
   * CONNECTION_LOSS; it is sent again once the client has reconnected.
   */
  private async stat(path: string): Promise<zookeeper.Stat | undefined> {
    const raw = this.raw!;
    for (let attempt = 1; ; attempt++) {
      try {
        return await new Promise<zookeeper.Stat | undefined>((resolve, reject) =>
          raw.exists(path, (error, found) => (error ? reject(error) : resolve(found ?? undefined))),
        );
      } catch (error) {
        if ((error as { code?: number }).code !== zookeeper.Exception.CONNECTION_LOSS || attempt >= 5) throw error;
        if (raw.getState() === zookeeper.State.SYNC_CONNECTED) continue;
        await new Promise<void>((resolve, reject) => {
          raw.once('connected', () => resolve());
          raw.once('expired', () => reject(error as Error));
        });
      }
    }
  }

  async othersWatching(election: string): Promise<number> {
    const [leader] = await this.readers.zk!.election(election).candidates();
    if (leader === undefined) return NaN;
    const stat = await this.stat(leader.key);
    if (stat === undefined) return NaN;
    const owner = BigInt(`0x${stat.ephemeralOwner.toString('hex')}`);
    const wchc = await fourLetter(this.zk!.members[0]!, 'wchc');
    let woken = 0;
    let session: bigint | undefined;
    for (const line of wchc.split('\n')) {
      if (/^0x[0-9a-f]+\s*$/i.test(line)) session = BigInt(line.trim());
      else if (session !== owner && (line.trim() === leader.key || line.trim() === election)) woken++;
    }
    return woken;
  }

  /** The servers that no longer run, each with the end of its log; undefined while all run. */
  down(): string | undefined {
    const gone = [...(this.zk?.members ?? []), ...(this.etcd?.members ?? [])].filter((member) => !member.running);
    if (gone.length === 0) return undefined;
    return gone.map((member) => `server ${member.name} is not running; the end of its log:\n${logTail(member.log)}`).join('\n');
  }

  async close(): Promise<void> {
    this.raw?.close();
    await Promise.allSettled(Object.values(this.readers).map((reader) => reader.close()));
    await Promise.allSettled([this.zk?.close(), this.etcd?.close()]);
  }
}
