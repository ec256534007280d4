/**
 * The soak: candidates of both kinds on one election, each writing to the
 * fenced store while it leads, and one fault after another aimed at whoever
 * leads (or at the servers). After each fault it waits for the leadership to
 * move (when the fault must move it), heals, and waits for a leader to write
 * again; at the end it stops every candidate, looks for what was left on the
 * servers, and hands the whole history to the checker.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { latchPath } from '@elect/zk';
import { Etcd3 } from 'etcd3';
import zookeeper from 'node-zookeeper-client';
import { Janitor, expireSessionById, withTimeout, type Cluster, type NetworkNamespace } from '@elect/test';
import type { Election } from '@elect/core';
import { Candidate, type Backend, type CandidateKind } from './candidates.js';
import { check, type FaultRecord, type Freeze, type Verdict } from './checker.js';
import { FencedStore, now, type Term } from './store.js';

export const faultKinds = [
  'kill',
  'term',
  'pause',
  'freeze',
  'cut-short',
  'cut-long',
  'blackhole',
  'delete',
  'expire',
  'member-restart',
  'server-leader-restart',
  'servers-restart',
  'isolate',
  'preempt',
  'handover',
] as const;
export type FaultKind = (typeof faultKinds)[number];

/** Faults that need more than one server member. */
const clusterOnly: readonly FaultKind[] = ['server-leader-restart', 'isolate'];

/**
 * Faults of priority elections only: a candidate of higher priority joins
 * with `preempt` (the leader must stop writing before it writes), and an
 * operator hands leadership to the waiting candidate of lowest priority
 * (`election.handover()`; it must be the next to write).
 */
const priorityOnly: readonly FaultKind[] = ['preempt', 'handover'];

export interface SoakOptions {
  backend: Backend;
  /** The servers: a harness cluster (restartable), or a user's addresses (`host:port` each; no server faults). */
  cluster?: Cluster;
  /** The network namespace the cluster runs in: enables 'isolate'. */
  netns?: NetworkNamespace;
  addresses: readonly string[];
  ttlMs: number;
  /**
   * Faulted transitions to run: faults go on until this many moved
   * leadership (a short cut or a member restart need not), and until every
   * fault kind has run at least once.
   */
  transitions: number;
  /** Stop injecting faults after this long (ms), transitions reached or not. */
  budgetMs?: number;
  kinds?: readonly FaultKind[];
  libraries: number;
  runs: number;
  writeEveryMs: number;
  unsafeMs?: number;
  /**
   * A priority election: candidate n (from 1) campaigns with priority 10·n,
   * and the preempt and handover faults run. Default: a plain election.
   */
  priority?: boolean;
  /** Progress lines (one per fault). */
  progress?: (line: string) => void;
  /**
   * The servers' own timing (the harness's zooKeeperTiming / etcdTiming):
   * how long a member takes to act on a lost peer, and to serve again after
   * losing its leader. Faults that cut members off last past the first;
   * after a restart of the server leader, healed while the others may still
   * be electing one, recovery may take the second on top of the TTL + 2 s.
   */
  serverTiming?: { lossDetectionMs: number; recoveryMs: number };
}

export interface Leftovers {
  /** zk: nodes under the election's latch path (itself included unless empty); etcd: keys under its prefix. */
  entries: string[];
  /** etcd: leases of ours still alive. */
  leases: string[];
  /**
   * zk: the latch path, left empty. It is persistent (this client cannot make
   * Curator's container nodes) and removed by the last candidate to close if
   * empty then; a candidate killed near the end leaves its node to expire
   * after the others closed, and the empty path behind. Reported, not a
   * leftover: it belongs to no session and holds nothing.
   */
  emptyLatchPath?: string;
}

export interface SoakResult {
  backend: Backend;
  members: number;
  ttlMs: number;
  verdict: Verdict;
  leftovers: Leftovers;
  /** Entries and leases still there the moment every candidate had stopped (gone with their sessions since). */
  leftAtStop: number;
  restarts: Record<string, number>;
  seconds: number;
}

interface Injected {
  expectTransition: boolean;
  /** Ends the fault; resolves once it is over (a member restarted, a process continued). */
  heal: () => Promise<void>;
  /** Heal as soon as leadership moved (a pause, a long cut), not after a fixed time. */
  healOnTransition: boolean;
  /** For faults that must not move leadership: how long the fault lasts. */
  holdMs?: number;
  /** The candidate that must come to write (a handover's chosen one, a preemptor). */
  nextId?: string;
}

export async function soak(o: SoakOptions): Promise<SoakResult> {
  const started = performance.now();
  const election = `chaos-${process.pid}-${Date.now().toString(36)}`;
  const store = await FencedStore.start();
  const admin = Admin.open(o.backend, o.addresses, election, o.priority === true);
  // Owns the candidates' process groups: if the soak dies, however it dies, they die too.
  const janitor = await Janitor.start('chaos candidates');
  const candidates: Candidate[] = [];
  const freezes: Freeze[] = [];
  const faults: FaultRecord[] = [];
  const serverMs = o.serverTiming ?? { lossDetectionMs: 0, recoveryMs: 0 };
  const bound = o.ttlMs * 3 + 15_000 + serverMs.recoveryMs;
  const members = o.cluster?.members.length ?? o.addresses.length;
  const kinds = (o.kinds ?? faultKinds).filter(
    (kind) =>
      (o.cluster || !kind.includes('restart')) &&
      (members > 1 || !clusterOnly.includes(kind)) &&
      (o.netns || kind !== 'isolate') &&
      (o.unsafeMs === undefined || kind !== 'freeze') &&
      (o.priority === true || !priorityOnly.includes(kind)),
  );
  /** Violations the soak itself sees (the checker sees the store's). */
  const seen: string[] = [];
  let preemptors = 0;
  try {
    const settings = { janitor, backend: o.backend, addresses: o.addresses, election, ttlMs: o.ttlMs, store: store.address, writeEveryMs: o.writeEveryMs, ...(o.unsafeMs === undefined ? {} : { unsafeMs: o.unsafeMs }) };
    const plan: [string, CandidateKind][] = [
      ...Array.from({ length: o.libraries }, (_, i): [string, CandidateKind] => [`lib-${i + 1}`, 'library']),
      ...Array.from({ length: o.runs }, (_, i): [string, CandidateKind] => [`run-${i + 1}`, 'run']),
    ];
    for (const [i, [id, kind]] of plan.entries()) {
      candidates.push(await Candidate.start(id, kind, o.priority ? { ...settings, priority: 10 * (i + 1) } : settings));
    }
    const byId = (id: string): Candidate => candidates.find((c) => c.id === id) as Candidate;

    /** The open term with the highest token that has had a write accepted. */
    const leading = (): Term | undefined => store.open().find((term) => term.writes.some((w) => w.accepted));
    await store.until(leading, bound, 'a first leader to write');

    const transitions = (): number => faults.filter((f) => f.failoverAt !== undefined).length;
    // Bounded, should leadership stop moving at all (the checker then says so).
    const over = (): boolean => o.budgetMs !== undefined && performance.now() - started > o.budgetMs;
    for (let n = 0; (transitions() < o.transitions || n < kinds.length) && n < 3 * o.transitions + kinds.length && !over(); n++) {
      const kind = kinds[n % kinds.length] as FaultKind;
      // Every candidate's library connected again after the last fault, so that successors wait.
      await until(() => candidates.every((c) => c.pid !== undefined && c.session !== undefined), bound, 'every candidate to be up');
      const term = await store.until(leading, bound, 'a leader to write');
      const leader = byId(term.id);
      const at = now();
      const injected = await inject(kind, leader);
      let failoverAt: bigint | undefined;
      /** A write of the candidate the fault must bring to lead (a preemptor, a handover's chosen one), after the fault. */
      const wroteAfter = (id: string): bigint | undefined =>
        store.terms.filter((t) => t.id === id && t.token > term.token).flatMap((t) => t.writes).find((w) => w.accepted && w.at > at)?.at;
      const moved = (): bigint | undefined => {
        let first: bigint | undefined;
        for (const t of store.terms) {
          if (t.token <= term.token) continue;
          const w = t.writes.find((x) => x.accepted && x.at > at);
          if (w && (first === undefined || w.at < first)) first = w.at;
        }
        return first;
      };
      if (injected.expectTransition) {
        failoverAt = await store.until(moved, bound, `leadership to move after ${kind} of ${leader.id}`).catch((error: unknown) => {
          o.progress?.(`  ${kind}: ${(error as Error).message}`);
          return undefined;
        });
      } else {
        await delay(injected.holdMs ?? 0);
      }
      // The preemptor (highest priority, preempting whoever leads) and a
      // handover's chosen one (handover() resolved: it led) must come to
      // write — not necessarily next: the aftermath of an earlier fault (a
      // session expiring after a restart of the servers) may move
      // leadership first.
      const nextId = injected.nextId;
      if (nextId !== undefined && (await store.until(() => wroteAfter(nextId), bound, `${nextId} to write`).catch(() => undefined)) === undefined) {
        seen.push(`${kind} of ${leader.id}: ${nextId} never wrote after it`);
      }
      await injected.heal();
      const healedAt = now();
      const recoveredAt = await store
        .until(() => store.terms.flatMap((t) => t.writes).find((w) => w.accepted && w.at > healedAt)?.at, bound, `a leader to write after ${kind}`)
        .catch(() => undefined);
      failoverAt ??= moved();
      faults.push({ kind, leader: leader.id, at, healedAt, failoverAt, recoveredAt, expectTransition: injected.expectTransition, forced: kind === 'delete' || kind === 'expire' });
      const took = failoverAt === undefined ? 'held' : `${Math.round(Number(failoverAt - at) / 1e6)} ms`;
      o.progress?.(`${o.backend} #${n + 1} ${kind} of ${leader.id} (${leader.kind}): ${took}`);
    }
  } finally {
    for (const candidate of candidates) await candidate.stop(o.ttlMs + 5_000);
    await admin.closeElection();
    await janitor.close();
    await store.close().catch(() => {});
  }
  const endAt = now();
  // Everything stopped gracefully should be gone now; what a candidate could
  // not remove (it had to be killed, or its close went unanswered) goes with
  // its session within one timeout. Only what outlives that is left over.
  const sessions = candidates.flatMap((c) => [...c.sessions]);
  const atStop = await admin.leftovers(sessions);
  let leftovers = atStop;
  const expiry = performance.now() + o.ttlMs * 2 + 2_000;
  while (leftovers.entries.length + leftovers.leases.length > 0 && performance.now() < expiry) {
    await delay(200);
    leftovers = await admin.leftovers(sessions);
  }
  admin.close();
  const verdict = check({ terms: store.terms, faults, freezes, recoveryBoundMs: o.ttlMs + 2_000, serverRecovery: { kinds: ['server-leader-restart'], ms: serverMs.recoveryMs }, forcedBoundMs: forcedBoundMs(o.ttlMs), endAt });
  verdict.violations.push(...seen);
  if (leftovers.entries.length + leftovers.leases.length > 0) {
    verdict.violations.push(`left on the servers: ${[...leftovers.entries, ...leftovers.leases.map((l) => `lease ${l}`)].join(', ')}`);
  }
  return {
    backend: o.backend,
    members,
    ttlMs: o.ttlMs,
    verdict,
    leftovers,
    leftAtStop: atStop.entries.length + atStop.leases.length,
    restarts: Object.fromEntries(candidates.map((c) => [c.id, c.restarted])),
    seconds: Math.round((performance.now() - started) / 1000),
  };

  async function inject(kind: FaultKind, leader: Candidate): Promise<Injected> {
    const none = async (): Promise<void> => {};
    switch (kind) {
      case 'kill':
        leader.signal('SIGKILL');
        return { expectTransition: true, heal: none, healOnTransition: true };
      case 'term':
        leader.signal('SIGTERM');
        return { expectTransition: true, heal: none, healOnTransition: true };
      case 'pause':
      case 'freeze': {
        // pause: the candidate's own process (a library candidate is then
        // wholly frozen; `elect` is frozen without its command, which its
        // watchdog must stop). freeze: everything of the candidate, as in a
        // frozen VM.
        const pids = kind === 'freeze' || leader.kind === 'library' ? leader.tree() : leader.pid === undefined ? [] : [leader.pid];
        const freeze: Freeze = { pids, from: now(), to: undefined };
        leader.signal('SIGSTOP', pids);
        // A wholly frozen process is excused for its overlap; `elect` alone is not.
        if (kind === 'freeze' || leader.kind === 'library') freezes.push(freeze);
        return {
          expectTransition: true,
          healOnTransition: true,
          heal: async () => {
            leader.signal('SIGCONT', pids);
            freeze.to = now();
          },
        };
      }
      case 'cut-short':
        leader.cut();
        // Well inside what a leader rides out (about half the timeout less the margin).
        return { expectTransition: false, healOnTransition: false, holdMs: Math.floor(o.ttlMs / 5), heal: async () => leader.heal() };
      case 'cut-long':
        leader.cut();
        return { expectTransition: true, healOnTransition: true, heal: async () => leader.heal() };
      case 'blackhole':
        leader.blackhole();
        return { expectTransition: true, healOnTransition: true, heal: async () => leader.heal() };
      case 'delete':
        await admin.deleteLeader();
        return { expectTransition: true, heal: none, healOnTransition: true };
      case 'expire':
        if (!leader.session) throw new Error(`${leader.id} has not reported its session`);
        await admin.endSession(leader.session);
        return { expectTransition: true, heal: none, healOnTransition: true };
      case 'member-restart': {
        const cluster = o.cluster as Cluster;
        const leaderMember = await cluster.serverLeader();
        const follower = cluster.members.find((m) => m !== leaderMember) ?? leaderMember;
        await follower.kill();
        return { expectTransition: false, healOnTransition: false, holdMs: Math.floor(o.ttlMs / 2), heal: () => restart(cluster, [follower]) };
      }
      case 'server-leader-restart': {
        const cluster = o.cluster as Cluster;
        const member = await cluster.serverLeader();
        await member.kill();
        return { expectTransition: false, healOnTransition: false, holdMs: Math.floor(o.ttlMs / 2), heal: () => restart(cluster, [member]) };
      }
      case 'isolate': {
        // The member the leader's client is connected to (its proxy carries
        // the connection), cut off from the other members past the TTL and
        // past the time that member takes to notice (a ZooKeeper follower
        // answers reads for syncLimit ticks after it lost the quorum). On a
        // follower the client may move to another member in time, or give
        // up leadership: either way, never two leaders.
        const cluster = o.cluster as Cluster;
        const netns = o.netns as NetworkNamespace;
        const index = leader.proxies.findIndex((proxy) => proxy.connections > 0);
        const member = cluster.members[index < 0 ? 0 : index]!;
        const role = member === (await cluster.serverLeader()) ? 'server leader' : 'follower';
        o.progress?.(`  isolating ${member.name} (${role}), which ${leader.id} is connected to`);
        await netns.isolate(member);
        return {
          expectTransition: false,
          healOnTransition: false,
          holdMs: o.ttlMs + serverMs.lossDetectionMs + 1_000,
          heal: async () => {
            await netns.heal();
            await cluster.waitServing();
          },
        };
      }
      case 'preempt': {
        // A newcomer of higher priority than anyone, with preempt: it writes
        // next, after the leader stopped; gone again at the heal.
        const id = `preemptor-${++preemptors}`;
        const preemptor = await Candidate.start(id, 'library', { janitor, backend: o.backend, addresses: o.addresses, election, ttlMs: o.ttlMs, store: store.address, writeEveryMs: o.writeEveryMs, priority: 1_000, preempt: true });
        candidates.push(preemptor);
        return {
          expectTransition: true,
          healOnTransition: true,
          nextId: id,
          heal: async () => {
            await preemptor.stop(o.ttlMs + 5_000);
            candidates.splice(candidates.indexOf(preemptor), 1);
          },
        };
      }
      case 'handover': {
        // To the waiting candidate of lowest priority: not who would lead next by priority.
        const waiting = candidates.filter((c) => c !== leader && c.pid !== undefined);
        const chosen = waiting[0];
        if (!chosen) throw new Error('no candidate waits to hand over to');
        try {
          await admin.handover(chosen.id, o.ttlMs * 2 + 10_000);
        } catch (error) {
          // Refused (chosen was between campaigns after a restart, say): nothing moved.
          o.progress?.(`  handover to ${chosen.id} refused: ${(error as Error).message}`);
          return { expectTransition: false, healOnTransition: false, holdMs: 0, heal: none };
        }
        return { expectTransition: true, healOnTransition: true, nextId: chosen.id, heal: none };
      }
      case 'servers-restart': {
        const cluster = o.cluster as Cluster;
        await Promise.all(cluster.members.map((m) => m.kill()));
        return { expectTransition: false, healOnTransition: false, holdMs: Math.floor(o.ttlMs / 2), heal: () => restart(cluster, cluster.members) };
      }
    }
  }
}

/**
 * How long an old leader may work on after the server forced its end: until
 * its own loss deadline, at the latest TTL − margin after its last contact
 * (the backends' default margin: a tenth of the TTL, 100 ms at least). It
 * learns sooner when its connection is healthy (etcd: from the watch, in
 * milliseconds; ZooKeeper: when it reconnects, as the admin's expiry takes
 * its connection, within a few hundred); the deadline is what bounds it when
 * the connection fails at the same time — a member restarting just after
 * the revoke, say.
 */
function forcedBoundMs(ttlMs: number): number {
  return ttlMs - Math.max(100, Math.floor(ttlMs / 10));
}

async function restart(cluster: Cluster, members: Cluster['members']): Promise<void> {
  await Promise.all(members.map((m) => m.start()));
  await cluster.waitServing();
}

async function until(probe: () => boolean, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (!probe()) {
    if (performance.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(20);
  }
}

/** What an operator does to the servers: delete the leader's entry, end a session, look for leftovers. */
class Admin {
  /** An election of our own (priority soaks): to find the leader's entry and to ask for handovers. */
  private own: { election: Election; close: () => Promise<void> } | undefined;

  private constructor(
    private readonly etcd: Etcd3 | undefined,
    private readonly addresses: readonly string[],
    private readonly election: string,
    private readonly priority: boolean,
  ) {}

  static open(backend: Backend, addresses: readonly string[], election: string, priority: boolean): Admin {
    return new Admin(backend === 'etcd' ? new Etcd3({ hosts: addresses.map((a) => `http://${a}`) }) : undefined, addresses, election, priority);
  }

  /** Asks the leader to hand over to `id` (`elect handover`) and waits until `id` leads. */
  async handover(id: string, ms: number): Promise<void> {
    const { election } = await this.ownElection();
    await election.handover({ to: id, signal: AbortSignal.timeout(ms) });
  }

  async closeElection(): Promise<void> {
    const own = this.own;
    this.own = undefined;
    await own?.close().catch(() => {});
  }

  private async ownElection(): Promise<{ election: Election; close: () => Promise<void> }> {
    if (this.own) return this.own;
    if (this.etcd) {
      const { connectEtcd } = await import('@elect/etcd');
      const conn = await connectEtcd({ endpoints: this.addresses.map((a) => `http://${a}`).join(','), ttlMs: 10_000 });
      this.own = { election: conn.election(this.election), close: () => conn.close() };
    } else {
      const { connectZooKeeper } = await import('@elect/zk');
      const conn = await connectZooKeeper({ connectString: this.addresses.join(','), sessionTimeoutMs: 10_000 });
      this.own = { election: conn.election(this.election), close: () => conn.close() };
    }
    return this.own;
  }

  /** Deletes the leader's entry (in a plain election the first in the queue), as an operator forcing a failover does. */
  async deleteLeader(): Promise<void> {
    if (this.priority) {
      // The leader is who the record names, not the first entry: ask the library.
      const leader = await (await this.ownElection()).election.leader();
      if (!leader) return;
      if (this.etcd) await this.etcd.delete().key(leader.key);
      else await this.zk(async (call) => void (await call((client, done) => client.remove(leader.key, -1, done)).catch(() => {})));
      return;
    }
    if (this.etcd) {
      const keys = await this.etcd.getAll().prefix(`${this.election}/`).sort('Create', 'Ascend').limit(1).keys();
      if (keys[0]) await this.etcd.delete().key(keys[0]);
      return;
    }
    const path = latchPath(this.election);
    await this.zk(async (call) => {
      const children = await call<string[]>((client, done) => client.getChildren(path, done));
      const first = children.sort((a, b) => a.slice(-10).localeCompare(b.slice(-10)))[0];
      if (first) await call((client, done) => client.remove(`${path}/${first}`, -1, done)).catch(() => {});
    });
  }

  /** Expires a zk session (as the server would) or revokes an etcd lease. */
  async endSession(session: string): Promise<void> {
    if (this.etcd) {
      await this.etcd.leaseClient.leaseRevoke({ ID: BigInt.asIntN(64, BigInt(`0x${session}`)).toString() }).catch(() => {});
      return;
    }
    await expireSessionById(this.addresses.join(','), session);
  }

  async leftovers(sessions: readonly string[]): Promise<Leftovers> {
    if (this.etcd) {
      const entries = await this.etcd.getAll().prefix(`${this.election}/`).keys();
      const leases: string[] = [];
      for (const lease of new Set(sessions)) {
        const res = await this.etcd.leaseClient.leaseTimeToLive({ ID: BigInt.asIntN(64, BigInt(`0x${lease}`)).toString() });
        if (Number(res.TTL) > 0) leases.push(lease);
      }
      return { entries, leases };
    }
    const entries: string[] = [];
    const latch = latchPath(this.election);
    let emptyLatch = false;
    await this.zk(async (call) => {
      const walk = async (path: string): Promise<void> => {
        const children = await call<string[]>((client, done) => client.getChildren(path, done)).catch(() => undefined);
        if (children === undefined) return;
        if (path === latch && children.length === 0) emptyLatch = true;
        else entries.push(path);
        for (const child of children) await walk(`${path}/${child}`);
      };
      await walk(latch);
    });
    return { entries, leases: [], ...(emptyLatch ? { emptyLatchPath: latch } : {}) };
  }

  close(): void {
    this.etcd?.close();
  }

  /**
   * One ZooKeeper session per operation: the soak restarts servers, and a
   * node-zookeeper-client session that expired meanwhile never recovers.
   */
  private async zk(work: (call: ZkCall) => Promise<void>): Promise<void> {
    const client = zookeeper.createClient(this.addresses.join(','), { sessionTimeout: 10_000 });
    try {
      await withTimeout(
        new Promise<void>((resolve) => {
          client.once('connected', () => resolve());
          client.connect();
        }),
        20_000,
        'an admin session with ZooKeeper',
      );
      const call: ZkCall = (fn) =>
        withTimeout(
          new Promise((resolve, reject) => fn(client, (error, value) => (error ? reject(new Error(String(error))) : resolve(value as never)))),
          10_000,
          'ZooKeeper to answer the admin',
        );
      await work(call);
    } finally {
      client.close();
    }
  }
}

type ZkCall = <T = void>(fn: (client: zookeeper.Client, done: (error: Error | zookeeper.Exception | null, value?: T) => void) => void) => Promise<T>;
