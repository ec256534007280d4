/**
 * The election on one real etcd member: layout, queue order, handoff, herd,
 * abort, proclaim, observe, close, namespace — and nothing left behind.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import type { Etcd3 } from 'etcd3';
import { AbortError, ClosedError, InvalidOptionError, NotLeaderError, runWhileLeader, type ElectionEvent, type LeaderInfo, type Leadership } from '@elect/core';
import { connectEtcd, type EtcdConnection } from '@elect/etcd';
import { signalHolds } from '@elect/core/testing';
import { campaignRounds, scaled, withTimeout, type Cluster } from '@elect/test';
import { Queue, RecordingLogger, TTL_MS, aborted, eventOf, eventually, expectClean, leases, residue, revokeHex, uniqueName, useEtcd } from './support/harness.js';

jest.setTimeout(scaled(60_000));

let cluster: Cluster;
let client: Etcd3;
const open: EtcdConnection[] = [];

useEtcd({ size: 1 }, (started, admin) => {
  cluster = started;
  client = admin;
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
  await expectClean(client, '');
});

async function connect(logger = new RecordingLogger(), extra: { namespace?: string } = {}): Promise<EtcdConnection> {
  const connection = await connectEtcd({ endpoints: cluster.connectString, ttlMs: TTL_MS, logger, ...extra });
  open.push(connection);
  return connection;
}

describe('etcd election on one member', () => {
  it('writes name/<lease hex> = id on its lease, like etcdctl elect', async () => {
    const name = uniqueName();
    const conn = await connect();
    const leadership = await conn.election(name).campaign({ id: 'node-a' });
    expect(leadership.key).toBe(`${name}/${conn.leaseId}`);
    expect(conn.leaseId).toMatch(/^[0-9a-f]+$/);
    const kv = await client.get(`${name}/${conn.leaseId}`).exec();
    expect(kv.kvs[0]?.value.toString()).toBe('node-a');
    expect(BigInt(kv.kvs[0]!.lease).toString(16)).toBe(conn.leaseId);
    expect(leadership.token).toBe(BigInt(kv.kvs[0]!.create_revision));
    await leadership.resign();
    expect(await residue(client, name)).toEqual([]);
  });

  it('never leads with a key it did not write: one already under its name on its lease (left by a failed removal) is refused, not adopted', async () => {
    const name = uniqueName();
    const conn = await connect();
    const election = conn.election(name);
    const first = await election.campaign({ id: 'a' });
    const key = first.key;
    await first.resign();
    // What a delete that failed for good leaves behind: another term's key
    // under the next campaign's name, on our lease (Go would adopt it, and
    // lead with that term's token).
    await client.put(key).value('a').lease(BigInt(`0x${conn.leaseId}`).toString()).exec();
    const left = BigInt((await client.get(key).exec()).kvs[0]!.create_revision);
    await expect(election.campaign({ id: 'b' })).rejects.toThrow(`${key} exists already, and this campaign did not write it`);
    // Not ours to delete either: it is still there, as it was.
    expect(BigInt((await client.get(key).exec()).kvs[0]!.create_revision)).toBe(left);
    await client.delete().key(key).exec();
    // With the name free again the slot works as before.
    const next = await election.campaign({ id: 'b' });
    expect(next.key).toBe(key);
    expect(next.token > left).toBe(true);
    await next.resign();
  });

  it('connects without a lease: reads and observers need none, and the first campaign grants it', async () => {
    const name = uniqueName();
    const conn = await connect();
    expect(conn.leaseId).toBe('');
    expect(await conn.election(name).leader()).toBeUndefined();
    expect(await conn.election(name).candidates()).toEqual([]);
    const stop = new AbortController();
    const seen = new Queue<LeaderInfo | undefined>(conn.election(name).observe({ signal: stop.signal }));
    expect(await seen.next()).toBeUndefined();
    expect(await leases(client)).toEqual([]);
    const leadership = await conn.election(name).campaign({ id: 'a' });
    expect(conn.leaseId).toMatch(/^[0-9a-f]+$/);
    expect(await leases(client)).toEqual([conn.leaseId]);
    expect(await seen.next()).toMatchObject({ id: 'a', token: leadership.token });
    stop.abort();
    await leadership.resign();
  });

  it('queues by create revision and hands over on resign with a greater token', async () => {
    const name = uniqueName();
    const [a, b, c] = await Promise.all([connect(), connect(), connect()]);
    const la = await a.election(name).campaign({ id: 'a' });
    const pb = b.election(name).campaign({ id: 'b' });
    await expect(waitCandidates(a, name, 2)).resolves.toEqual(['a', 'b']);
    const pc = c.election(name).campaign({ id: 'c', value: 'see' });
    const queue = await waitCandidates(a, name, 3);
    expect(queue).toEqual(['a', 'b', 'c']);
    const listed = await a.election(name).candidates();
    expect(listed[2]).toMatchObject({ id: 'c', value: 'see' });
    expect(listed.map((x) => x.token)).toEqual([...listed.map((x) => x.token)].sort((x, y) => (x < y ? -1 : 1)));

    await la.resign();
    expect(la.signal.aborted).toBe(true);
    expect((la.signal.reason as { reason?: string }).reason).toBe('resigned');
    const lb = await pb;
    expect(lb.token).toBeGreaterThan(la.token);
    expect(await a.election(name).leader()).toMatchObject({ id: 'b', token: lb.token });
    await lb.resign();
    const lc = await pc;
    expect(lc.value).toBe('see');
    expect(lc.token).toBeGreaterThan(lb.token);
    await lc.resign();
    expect(await a.election(name).leader()).toBeUndefined();
  });

  it('wakes exactly one waiting candidate per leadership change (no herd)', async () => {
    const name = uniqueName();
    const loggers = Array.from({ length: 6 }, () => new RecordingLogger());
    const conns = await Promise.all(loggers.map((l) => connect(l)));
    const leader = await conns[0]!.election(name).campaign({ id: 'c0' });
    const aborts = conns.map(() => new AbortController());
    // One at a time, so that the queue order is c1..c5.
    const waiting: Promise<Leadership>[] = [];
    for (let i = 1; i < 6; i++) {
      waiting.push(conns[i]!.election(name).campaign({ id: `c${i}`, signal: aborts[i]!.signal }));
      await waitCandidates(conns[0]!, name, i + 1);
    }
    const wakes = (): number[] => loggers.map((l) => l.count('wake'));
    expect(wakes()).toEqual([0, 0, 0, 0, 0, 0]);

    await leader.resign();
    const c1 = await waiting[0]!;
    await quietFor(500); // a wrongly woken candidate would have logged its wake by now
    expect(wakes()).toEqual([0, 1, 0, 0, 0, 0]);

    // A candidate in the middle leaves: only its successor wakes, and keeps waiting.
    aborts[3]!.abort();
    await expect(waiting[2]).rejects.toBeInstanceOf(AbortError);
    await eventually(() => loggers[4]!.count('wake') === 1, "c4's wake");
    await quietFor(500);
    expect(wakes()).toEqual([0, 1, 0, 0, 1, 0]);
    expect(await waitCandidates(conns[0]!, name, 4)).toEqual(['c1', 'c2', 'c4', 'c5']);

    await c1.resign();
    for (const i of [1, 3, 4]) await (await waiting[i]!).resign();
  });

  it('rejects an aborted campaign with AbortError and deletes its key', async () => {
    const name = uniqueName();
    const [a, b] = await Promise.all([connect(), connect()]);
    const la = await a.election(name).campaign({ id: 'a' });
    const controller = new AbortController();
    const pb = b.election(name).campaign({ id: 'b', signal: controller.signal });
    await waitCandidates(a, name, 2);
    controller.abort();
    await expect(pb).rejects.toBeInstanceOf(AbortError);
    expect(await residue(client, name)).toEqual([la.key]);
    await la.resign();
  });

  it('runs many candidates on one connection: each its own key, queued and handed over like any other', async () => {
    const name = uniqueName();
    const conn = await connect();
    const other = await connect();
    const election = conn.election(name);
    const first = await election.campaign({ id: 'one' });
    // One at a time, so that the queue's order is known.
    const second = election.campaign({ id: 'two' });
    await waitCandidates(other, name, 2);
    const third = conn.election(name).campaign({ id: 'three' });
    await waitCandidates(other, name, 3);
    const outsider = other.election(name).campaign({ id: 'outsider' });
    expect(await waitCandidates(other, name, 4)).toEqual(['one', 'two', 'three', 'outsider']);
    const keys = (await other.election(name).candidates()).map((c) => c.key);
    expect(keys.slice(0, 3)).toEqual([`${name}/${conn.leaseId}`, `${name}/${conn.leaseId}-1`, `${name}/${conn.leaseId}-2`]);
    await first.resign();
    const l2 = await second;
    expect(l2.token).toBeGreaterThan(first.token);
    // Slot 0 is free again: a new campaign takes it, behind everyone queued.
    const again = election.campaign({ id: 'again' });
    expect(await waitCandidates(other, name, 4)).toEqual(['two', 'three', 'outsider', 'again']);
    expect((await other.election(name).candidates())[3]?.key).toBe(`${name}/${conn.leaseId}`);
    await l2.resign();
    const l3 = await third;
    await l3.resign();
    await (await outsider).resign();
    const la = await again;
    expect(la.token).toBeGreaterThan(l3.token);
    await la.resign();
    expect(await residue(client, name)).toEqual([]);
  });

  it('a campaign beside a leadership that yielded but has not released waits: never leading with that term, nor taking its key', async () => {
    const name = uniqueName();
    const conn = await connect();
    const other = await connect();
    const la = await conn.election(name).campaign({ id: 'a', priority: 1 });
    const pb = other.election(name).campaign({ id: 'b', priority: 2, preempt: true });
    // Preempted: a's work is told to stop, and its key and the record stay until it resigns.
    await waitAborted(la.signal);
    const again = conn.election(name).campaign({ id: 'again', priority: 1 });
    const first = await Promise.race([again.then((l) => `led with ${l.token === la.token ? "a's" : 'a new'} token`), waitCandidates(other, name, 3).then(() => 'queued')]);
    expect(first).toBe('queued');
    expect(await other.election(name).candidates()).toMatchObject([{ id: 'a', token: la.token }, { id: 'b' }, { id: 'again' }]);
    // a's release hands over to b; the new campaign queues behind it, on a key of its own.
    await la.resign();
    const lb = await pb;
    expect(lb.token).toBeGreaterThan(la.token);
    expect(await waitCandidates(other, name, 2)).toEqual(['b', 'again']);
    expect((await other.election(name).candidates())[1]?.key).not.toBe(la.key);
    await lb.resign();
    const lagain = await again;
    expect(lagain.token).toBeGreaterThan(lb.token);
    await lagain.resign();
    expect(await residue(client, name)).toEqual([]);
  });

  it('proclaims through a guarded write; a resigned leader cannot proclaim', async () => {
    const name = uniqueName();
    const conn = await connect();
    const observer = new Queue<LeaderInfo | undefined>(conn.election(name).observe());
    expect(await observer.next()).toBeUndefined();
    const leadership = await conn.election(name).campaign({ id: 'p', value: 'v1' });
    expect(await observer.next()).toMatchObject({ id: 'p', value: 'v1' });
    await leadership.proclaim('v2');
    expect(leadership.value).toBe('v2');
    expect(await observer.next()).toMatchObject({ id: 'p', value: 'v2', token: leadership.token });
    expect((await client.get(leadership.key).string())).toBe('p\nv2');
    await leadership.resign();
    expect(await observer.next()).toBeUndefined();
    await expect(leadership.proclaim('v3')).rejects.toBeInstanceOf(NotLeaderError);
    expect(await residue(client, name)).toEqual([]);
  });

  it('observes every change once, in order, including no leader', async () => {
    const name = uniqueName();
    const [a, b] = await Promise.all([connect(), connect()]);
    const controller = new AbortController();
    const seen = new Queue<LeaderInfo | undefined>(a.election(name).observe({ signal: controller.signal }));
    expect(await seen.next()).toBeUndefined();
    const la = await a.election(name).campaign({ id: 'a' });
    expect((await seen.next())?.id).toBe('a');
    // b must be queued before a resigns; otherwise "no leader" in between is a correct observation.
    const pb = b.election(name).campaign({ id: 'b' });
    expect(await waitCandidates(a, name, 2)).toEqual(['a', 'b']);
    await la.resign();
    expect((await seen.next())?.id).toBe('b');
    await (await pb).resign();
    expect(await seen.next()).toBeUndefined();
    // Nothing repeated or late: the next item observed is exactly the next change made.
    const again = await b.election(name).campaign({ id: 'b2' });
    expect(await seen.next()).toMatchObject({ id: 'b2', token: again.token });
    await again.resign();
    expect(await seen.next()).toBeUndefined();
    controller.abort();
    await expect(seen.next(() => true, 2000)).rejects.toThrow(/ended/);
  });

  it('emits elected, leader and lost events on change only', async () => {
    const name = uniqueName();
    const [a, b] = await Promise.all([connect(), connect()]);
    const ea = a.election(name);
    const events = new Queue<ElectionEvent>(ea.events());
    const la = await ea.campaign({ id: 'a' });
    const elected = await events.next((e) => e.type !== 'leader' || e.leader?.key === la.key);
    expect(elected).toMatchObject({ type: 'elected', id: 'a', token: la.token });
    const pb = b.election(name).campaign({ id: 'b' });
    await waitCandidates(a, name, 2);
    await la.resign();
    expect(await events.next(eventOf('lost'))).toMatchObject({ id: 'a', reason: 'resigned' });
    const lb = await pb;
    expect(await events.next((e) => e.type === 'leader' && e.leader?.id === 'b')).toBeDefined();
    await lb.resign();
    expect(await events.next(eventOf('leader'))).toMatchObject({ leader: undefined });
    await ea.close();
    // Our own election came as `elected`, never as a `leader` event.
    const all = [...events.drain()];
    expect(all.filter((e) => e.type === 'leader' && e.leader?.key === la.key)).toEqual([]);
  });

  it('observers, campaigns and handovers leave nothing on the election\'s signal, the session\'s or the caller\'s once they end: a handle used per request does not grow', async () => {
    const conn = await connect();
    const election = conn.election(uniqueName());
    const own = (election as unknown as { closer: AbortController }).closer.signal;
    const caller = new AbortController();
    for (let i = 0; i < 50; i += 1) {
      const seen = election.observe({ signal: caller.signal })[Symbol.asyncIterator]();
      expect((await seen.next()).value).toBeUndefined();
      await seen.return?.();
    }
    await campaignRounds(election, caller.signal);
    const session = await (conn as unknown as { session(signal: AbortSignal): Promise<{ signal: AbortSignal }> }).session(caller.signal);
    const none = { listeners: 0, dependants: 0 };
    expect({ own: signalHolds(own), session: signalHolds(session.signal), caller: signalHolds(caller.signal) }).toEqual({ own: none, session: none, caller: none });
  });

  it('close() resigns, rejects waiting campaigns with ClosedError and deletes everything', async () => {
    const name = uniqueName();
    const [a, b] = await Promise.all([connect(), connect()]);
    const ea = a.election(name);
    const eb = b.election(name);
    const la = await ea.campaign({ id: 'a' });
    const pb = eb.campaign({ id: 'b' });
    await waitCandidates(a, name, 2);
    await eb.close();
    await expect(pb).rejects.toBeInstanceOf(ClosedError);
    expect(await residue(client, name)).toEqual([la.key]);
    await ea.close();
    expect(la.signal.aborted).toBe(true);
    expect((la.signal.reason as { reason?: string }).reason).toBe('closed');
    expect(await residue(client, name)).toEqual([]);
    await expect(ea.campaign({ id: 'late' })).rejects.toBeInstanceOf(ClosedError);
  });

  it('loses with reason "deleted" when someone deletes the leader key, and the next one takes over', async () => {
    const name = uniqueName();
    const [a, b] = await Promise.all([connect(), connect()]);
    const la = await a.election(name).campaign({ id: 'a' });
    const pb = b.election(name).campaign({ id: 'b' });
    await waitCandidates(a, name, 2);
    await client.delete().key(la.key).exec();
    const lb = await pb;
    await waitAborted(la.signal);
    expect((la.signal.reason as { reason?: string }).reason).toBe('deleted');
    await lb.resign();
  });

  it('loses the moment its key is deleted, without waiting to learn why', async () => {
    const name = uniqueName();
    const [a, b] = await Promise.all([connect(), connect()]);
    const la = await a.election(name).campaign({ id: 'a' });
    // Asking etcd about our lease (to learn why the key went) gets no answer
    // until the test says so, as on a congested link: a must let go on the
    // deletion itself. (Whether a hears of it before b, watching the same
    // key on another connection, has itself elected is a race between two
    // clients: an operator's deletion ends leadership on the server first.)
    type LeaseCalls = { leaseTimeToLive: (...args: unknown[]) => Promise<unknown> };
    const member = (a as unknown as { endpoints: { pinned(): { client: LeaseCalls } } }).endpoints.pinned().client;
    const ask = member.leaseTimeToLive.bind(member);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    member.leaseTimeToLive = async (...args: unknown[]) => {
      await held;
      return await ask(...args);
    };
    try {
      const pb = b.election(name).campaign({ id: 'b' });
      await waitCandidates(a, name, 2);
      await client.delete().key(la.key).exec();
      await waitAborted(la.signal);
      expect((la.signal.reason as { reason?: string }).reason).toBe('deleted');
      const lb = await pb;
      await lb.resign();
    } finally {
      release();
    }
  });

  it('sees its key deleted before its guard watch was opened: a read once the watch exists tells', async () => {
    const name = uniqueName();
    const a = await connect();
    // Every watch this connection opens from now on waits until the test
    // says so: the new leader's guard is opened only after the deletion.
    type WatchCalls = { watch: (...args: unknown[]) => Promise<unknown> };
    const member = (a as unknown as { endpoints: { pinned(): { client: WatchCalls } } }).endpoints.pinned().client;
    const open = member.watch.bind(member);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    try {
      const la = await a.election(name).campaign({ id: 'a' });
      member.watch = async (...args: unknown[]) => {
        await held;
        return await open(...args);
      };
      await client.delete().key(la.key).exec();
      expect(la.isLeader).toBe(true); // nothing has told it yet
      release();
      await waitAborted(la.signal);
      expect((la.signal.reason as { reason?: string }).reason).toBe('deleted');
    } finally {
      release();
      member.watch = open;
    }
  });

  it('a waiting candidate whose predecessor goes between its read and its watch is elected: a read once the watch exists tells', async () => {
    const name = uniqueName();
    const [a, b] = await Promise.all([connect(), connect()]);
    const watches = holdWatches(b);
    try {
      const la = await a.election(name).campaign({ id: 'a' });
      watches.hold();
      const pb = b.election(name).campaign({ id: 'b' });
      await watches.asked; // b has read the queue, a ahead of it, and asked for its watch
      await la.resign();
      watches.release(); // its watch starts after the resign: only the read after it shows the change
      const lb = await withTimeout(pb, 2 * TTL_MS, 'b to be elected');
      await lb.resign();
    } finally {
      watches.restore();
    }
  });

  it('a priority leader whose record guard opens after a preemptor joined yields to it: a reading once the watch exists tells', async () => {
    const name = uniqueName();
    const [a, b] = await Promise.all([connect(), connect()]);
    const watches = holdWatches(a);
    try {
      watches.hold(); // a leads without waiting; its guards' watches wait
      const la = await a.election(name).campaign({ id: 'a', priority: 1 });
      await watches.asked;
      const pb = b.election(name).campaign({ id: 'b', priority: 5, preempt: true });
      await waitCandidates(a, name, 2);
      expect(la.isLeader).toBe(true); // nothing has told it yet
      watches.release();
      await waitAborted(la.signal);
      expect((la.signal.reason as { reason?: string }).reason).toBe('preempted');
      await la.resign();
      const lb = await withTimeout(pb, 2 * TTL_MS, 'b to lead after preempting a');
      await lb.resign();
    } finally {
      watches.restore();
    }
  });

  it('loses at once when the lease is revoked (its key goes first: "deleted", or "session-expired"); waiting campaigns rejoin on a fresh lease', async () => {
    const name = uniqueName();
    const [a, b] = await Promise.all([connect(), connect()]);
    const la = await a.election(name).campaign({ id: 'a' });
    const pb = b.election(name).campaign({ id: 'b' });
    const lb2 = await b.election(`${name}-2`).campaign({ id: 'b2' });
    const pa2 = a.election(`${name}-2`).campaign({ id: 'a2' });
    await waitCandidates(a, name, 2);
    await waitCandidates(a, `${name}-2`, 2);
    const before = a.leaseId;
    await revokeHex(client, before);
    await waitAborted(la.signal);
    // The key's deletion is usually seen first, and acted on without waiting to learn why.
    expect((la.signal.reason as { reason?: string }).reason).toMatch(/^(deleted|session-expired)$/);
    const lb = await pb;
    // a's waiting campaign in the other election joined again with a key on the new lease.
    await eventually(() => a.leaseId !== before, 'a fresh lease');
    await eventually(async () => (await residue(client, `${name}-2`)).includes(`${name}-2/${a.leaseId}`), "a2's key on the fresh lease");
    expect(await waitCandidates(a, `${name}-2`, 2)).toEqual(['b2', 'a2']);
    await lb2.resign();
    await (await pa2).resign();
    await lb.resign();
  });

  it('prefixes keys with the namespace and reports them without it', async () => {
    const name = uniqueName();
    const conn = await connect(undefined, { namespace: 'tenant-x/' });
    const leadership = await conn.election(name).campaign({ id: 'ns' });
    expect(leadership.key).toBe(`${name}/${conn.leaseId}`);
    expect(await residue(client, `tenant-x/${name}`)).toEqual([`tenant-x/${name}/${conn.leaseId}`]);
    expect(await residue(client, name)).toEqual([]);
    expect((await conn.election(name).leader())?.key).toBe(leadership.key);
    await leadership.resign();
  });

  it('works as a scope: `await using` resigns the leadership and closes the connection', async () => {
    const name = uniqueName();
    let lease: string;
    {
      await using conn = await connectEtcd({ endpoints: cluster.connectString, ttlMs: TTL_MS });
      await using leadership = await conn.election(name).campaign({ id: 'scoped' });
      lease = conn.leaseId;
      expect(leadership.isLeader).toBe(true);
      expect(await residue(client, name)).toEqual([`${name}/${lease}`]);
    }
    expect(await residue(client, name)).toEqual([]);
    expect((await client.leaseClient.leaseLeases()).leases.map((l) => BigInt(l.ID).toString(16))).not.toContain(lease);
  });

  it('runWhileLeader rejoins on a fresh lease after the lease is revoked, never running two tasks at once', async () => {
    const name = uniqueName();
    const conn = await connect();
    const stop = new AbortController();
    const tokens: bigint[] = [];
    let running = 0;
    const done = runWhileLeader(
      conn.election(name),
      async (leadership) => {
        running += 1;
        expect(running).toBe(1);
        tokens.push(leadership.token);
        await aborted(leadership.signal);
        running -= 1;
      },
      { id: 'worker', rejoin: true, signal: stop.signal },
    );
    await eventually(() => tokens.length === 1, 'the first term');
    await revokeHex(client, conn.leaseId);
    await eventually(() => tokens.length === 2, 'a second term after the lease was revoked');
    expect(tokens[1]!).toBeGreaterThan(tokens[0]!);
    stop.abort();
    await expect(done).rejects.toMatchObject({ name: 'AbortError' });
    expect(await residue(client, name)).toEqual([]);
  });

  it('rejects invalid election names before writing anything', async () => {
    const conn = await connect();
    for (const bad of ['', 'trailing/', 'nul\0byte', 'line\nbreak']) {
      expect(() => conn.election(bad)).toThrow(InvalidOptionError);
    }
    await expect(conn.election('fine').campaign({ id: '' })).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(conn.election('fine').campaign({ id: 'x', bogus: 1 } as never)).rejects.toBeInstanceOf(InvalidOptionError);
    expect(await residue(client, 'fine')).toEqual([]);
  });

  it('keeps nested names apart: keys of team/billing are not candidates of team, however many come first', async () => {
    const team = uniqueName('team');
    const billing = `${team}/billing`;
    const [a, b, c] = await Promise.all([connect(), connect(), connect()]);
    const lb = await a.election(billing).campaign({ id: 'billing' });
    // Only team/billing campaigns: team has no leader and no candidate.
    expect(await b.election(team).leader()).toBeUndefined();
    expect(await b.election(team).candidates()).toEqual([]);
    const stop = new AbortController();
    const observed = new Queue<LeaderInfo | undefined>(c.election(team).observe({ signal: stop.signal }));
    expect(await observed.next()).toBeUndefined();
    // A write in the nested election is no change of team's leader.
    await lb.proclaim('billing, again');
    // More nested keys than one read fetches, before and after team's leader.
    const nested = (from: number) => Array.from({ length: 70 }, (_, i) => `${team}/n${from + i}/x`);
    for (const key of nested(0)) await client.put(key).value('not a candidate');
    const lt = await withTimeout(b.election(team).campaign({ id: 'team' }), 10_000, 'team elected, with only nested keys ahead');
    expect(await observed.next()).toMatchObject({ id: 'team', token: lt.token });
    for (const key of nested(70)) await client.put(key).value('not a candidate');
    const second = c.election(team).campaign({ id: 'second' });
    expect(await waitCandidates(a, team, 2)).toEqual(['team', 'second']);
    expect(await a.election(team).leader()).toMatchObject({ id: 'team', token: lt.token });
    expect(await a.election(billing).leader()).toMatchObject({ id: 'billing', token: lb.token });
    // The second candidate's predecessor is team's leader, behind 70 nested keys: it waits.
    await quietFor(300);
    expect(lt.isLeader).toBe(true);
    await lt.resign();
    const ls = await withTimeout(second, 10_000, 'the second team candidate elected');
    expect(await observed.next()).toMatchObject({ id: 'second', token: ls.token });
    await ls.resign();
    expect(await observed.next()).toBeUndefined();
    await lb.resign();
    stop.abort();
    expect(observed.drain()).toEqual([]);
    await client.delete().prefix(`${team}/n`);
  });
});

/** The queue's ids once it holds `count` candidates, read from the server (within a scaled budget). */
async function waitCandidates(conn: EtcdConnection, name: string, count: number): Promise<string[]> {
  return await eventually(async () => {
    const list = await conn.election(name).candidates();
    return list.length === count && list.map((c) => c.id);
  }, `${count} candidates in ${name}`);
}

async function waitAborted(signal: AbortSignal): Promise<void> {
  await withTimeout(aborted(signal), 10_000, 'the leadership signal to abort');
}

/**
 * Not synchronisation: a negative check's window, in which something that
 * must not happen (a wrongly woken candidate) would have shown up. Derived
 * from the timing base like every other wait.
 */
async function quietFor(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, scaled(ms)));
}

/**
 * Holds back the watches `connection` opens (on its current member) from
 * `hold()` until `release()`: what is written meanwhile happens between a
 * read and the watch that follows it. `asked` resolves at the first one held.
 */
function holdWatches(connection: EtcdConnection): { hold(): void; asked: Promise<void>; release(): void; restore(): void } {
  type WatchCalls = { watch: (...args: unknown[]) => Promise<unknown> };
  const member = (connection as unknown as { endpoints: { pinned(): { client: WatchCalls } } }).endpoints.pinned().client;
  const open = member.watch.bind(member);
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let ask!: () => void;
  const asked = new Promise<void>((resolve) => (ask = resolve));
  return {
    hold: () => {
      member.watch = async (...args: unknown[]) => {
        ask();
        await held;
        return await open(...args);
      };
    },
    asked,
    release,
    restore: () => {
      release();
      member.watch = open;
    },
  };
}
