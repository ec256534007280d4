/**
 * Member faults in a 3-member cluster. A connection pins one member (the
 * first endpoint it is given) and moves to the next when that member fails —
 * by an error (killed) or by silence (SIGSTOP). Leadership survives a member
 * fault the cluster survives; a full outage ends it at the loss deadline, and
 * after the restart (etcd restores leases) the abandoned lease is revoked so
 * its key cannot block the queue.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import type { Etcd3 } from 'etcd3';
import type { LeaderInfo, Leadership } from '@elect/core';
import { connectEtcd, type EtcdConnection } from '@elect/etcd';
import { scaled, type Cluster, type Member } from '@elect/test';
import { Queue, RecordingLogger, aborted, eventually, expectClean, leases, residue, uniqueName, useEtcd } from './support/harness.js';

jest.setTimeout(scaled(120_000));

/** Long enough to ride out a raft leader election (~1-2 s) on a loaded machine. */
const TTL = 5000;
/** The connections' operation timeout: also how long a connection waits for the answer to a ping. */
const OPERATION_MS = 2000;
/** How often a connection with streams open pings (packages/etcd/src/endpoints.ts `pingEveryMs`, kept above etcd's 5 s minimum). */
const PING_EVERY_MS = 10_000;

let cluster: Cluster;
let client: Etcd3;
const open: EtcdConnection[] = [];

useEtcd({ size: 3 }, (started, admin) => {
  cluster = started;
  client = admin;
});

afterEach(async () => {
  await Promise.all(cluster.members.map(async (m) => {
    await m.resume().catch(() => {});
    if (!m.running) await m.start();
  }));
  await cluster.waitServing();
  await Promise.all(open.splice(0).map((c) => c.close()));
  await expectClean(client, '');
});

/** A connection pinned to `first`, with the other members as fallbacks. */
async function pinnedTo(first: Member, logger = new RecordingLogger()): Promise<EtcdConnection> {
  const rest = cluster.members.filter((m) => m !== first);
  const endpoints = [first, ...rest].map((m) => `http://${m.clientAddress}`);
  const conn = await connectEtcd({ endpoints, ttlMs: TTL, operationTimeoutMs: OPERATION_MS, logger });
  open.push(conn);
  return conn;
}

async function follower(): Promise<Member> {
  const leader = await cluster.serverLeader();
  return cluster.members.find((m) => m !== leader)!;
}

/** Campaign on a connection pinned elsewhere, so the fault does not touch it; resolves when it leads. */
async function rival(name: string, avoid: Member): Promise<{ campaign: Promise<Leadership>; conn: EtcdConnection }> {
  const other = cluster.members.find((m) => m !== avoid)!;
  const conn = await pinnedTo(other);
  const campaign = conn.election(name).campaign({ id: 'rival' });
  await eventually(async () => (await residue(client, name)).length === 2, 'the rival to queue');
  return { campaign, conn };
}

async function holdsThrough(leadership: Leadership, fault: () => Promise<void>, rivalLeads: Promise<Leadership>): Promise<void> {
  let rivalLed = false;
  void rivalLeads.then(() => (rivalLed = true), () => {});
  const before = leadership.deadline;
  await fault();
  // Longer than a whole TTL: had we lost contact for good, the deadline would have passed.
  await eventually(() => leadership.deadline > before + TTL, 'the deadline to move past a full TTL', TTL * 3);
  expect(leadership.isLeader).toBe(true);
  expect(rivalLed).toBe(false);
}

describe('etcd 3-member cluster faults', () => {
  it('kill the member a leader is pinned to (a follower): it fails over, leadership holds', async () => {
    const name = uniqueName();
    const target = await follower();
    const conn = await pinnedTo(target);
    const leadership = await conn.election(name).campaign({ id: 'a' });
    const { campaign } = await rival(name, target);
    await holdsThrough(leadership, () => target.kill(), campaign);
    await leadership.resign();
    await (await campaign).resign();
  });

  it('kill the raft leader a leader is pinned to: a new raft leader, failover, leadership holds', async () => {
    const name = uniqueName();
    const target = await cluster.serverLeader();
    const conn = await pinnedTo(target);
    const leadership = await conn.election(name).campaign({ id: 'a' });
    const { campaign } = await rival(name, target);
    await holdsThrough(leadership, () => target.kill(), campaign);
    // The queue still works across the new raft leader.
    await leadership.resign();
    await (await campaign).resign();
  });

  it('SIGSTOP the member a leader and a waiter are pinned to: silence is detected, both move on', async () => {
    const name = uniqueName();
    const target = await follower();
    const logger = new RecordingLogger();
    const conn = await pinnedTo(target, logger);
    const leadership = await conn.election(name).campaign({ id: 'a' });
    const { campaign } = await rival(name, target);
    // A waiter on the hung member's connection, in a second election: its watch must move too.
    const second = `${name}-2`;
    const holder = await pinnedTo(cluster.members.find((m) => m !== target)!);
    const held = await holder.election(second).campaign({ id: 'holder' });
    const waiter = conn.election(second).campaign({ id: 'waiter' });
    await eventually(async () => (await residue(client, second)).length === 2, 'the waiter to queue');

    await holdsThrough(leadership, () => target.pause(), campaign);
    expect(logger.count('endpoint-failover')).toBeGreaterThanOrEqual(1);
    await held.resign();
    const woke = await waiter;
    expect(woke.isLeader).toBe(true);
    await woke.resign();
    await leadership.resign();
    await (await campaign).resign();
  });

  it('SIGSTOP the member an observer is pinned to (no lease, no keepalive): its pings go unanswered, it moves on and sees the next leader', async () => {
    const name = uniqueName();
    const target = await follower();
    const logger = new RecordingLogger();
    const observer = await pinnedTo(target, logger);
    const holder = await pinnedTo(cluster.members.find((m) => m !== target)!);
    const held = await holder.election(name).campaign({ id: 'first' });
    const seen = new Queue<LeaderInfo | undefined>(observer.election(name).observe());
    expect((await seen.next())?.id).toBe('first');
    const before = logger.count('endpoint-failover');
    await target.pause();
    // The observer's only traffic is its watch: nothing but the connection's own pings can tell it the member is gone.
    const queued = holder.election(name).campaign({ id: 'second' });
    await eventually(async () => (await residue(client, name)).length === 2, 'the second candidate to queue');
    const pingedOut = (): boolean =>
      logger.records.some((r) => r.fields.event === 'endpoint-failover' && String(r.fields.err).includes('no answer to a ping'));
    await eventually(pingedOut, 'the observer to leave the silent member for want of a ping answer', scaled(PING_EVERY_MS + OPERATION_MS * 2));
    expect(logger.count('endpoint-failover')).toBeGreaterThan(before);
    await held.resign();
    const next = await queued;
    expect((await seen.next())?.id).toBe('second');
    await next.resign();
    expect(await seen.next()).toBeUndefined();
  });

  it('SIGSTOP the raft leader: leadership holds through the raft election', async () => {
    const name = uniqueName();
    const target = await cluster.serverLeader();
    const conn = await pinnedTo(target);
    const leadership = await conn.election(name).campaign({ id: 'a' });
    const { campaign } = await rival(name, target);
    await holdsThrough(leadership, () => target.pause(), campaign);
    await leadership.resign();
    await (await campaign).resign();
  });

  it('full cluster restart: the leader gives up at its deadline; after the restart its restored lease is revoked and a waiter leads', async () => {
    const name = uniqueName();
    const conn = await pinnedTo(cluster.members[0]!);
    const other = await pinnedTo(cluster.members[1]!);
    const leadership = await conn.election(name).campaign({ id: 'a' });
    const waiting = other.election(name).campaign({ id: 'b' });
    await eventually(async () => (await residue(client, name)).length === 2, 'b to queue');
    const oldLease = conn.leaseId;

    await Promise.all(cluster.members.map((m) => m.stop()));
    await aborted(leadership.signal);
    expect((leadership.signal.reason as { reason: string }).reason).toBe('deadline');
    await Promise.all(cluster.members.map((m) => m.start()));
    await cluster.waitServing();

    // etcd restored the lease with a fresh TTL; we revoke it rather than let its key block b.
    const lb = await waiting;
    expect(lb.token).toBeGreaterThan(leadership.token);
    await eventually(async () => !(await leases(client)).includes(oldLease), 'the abandoned lease to be revoked', TTL * 2);
    await eventually(() => conn.leaseId !== oldLease, 'a fresh lease on the old leader');
    const again = conn.election(name).campaign({ id: 'a' });
    await lb.resign();
    await (await again).resign();
  });
});
