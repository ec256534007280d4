/**
 * Lease loss decided on our clock, through a TCP proxy that blackholes one
 * client (single member): a cut shorter than the deadline costs nothing; a
 * longer one ends leadership at lastContact + TTL − margin, before the
 * server can give it away; afterwards the abandoned lease is revoked and a
 * fresh one serves new campaigns.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import type { Etcd3 } from 'etcd3';
import { type ElectionEvent } from '@elect/core';
import { connectEtcd, type EtcdConnection } from '@elect/etcd';
import { scaled, startProxy, type Cluster, type Proxy } from '@elect/test';
import { Queue, RecordingLogger, TTL_MS, aborted, eventOf, eventually, expectClean, leases, residue, uniqueName, useEtcd } from './support/harness.js';

jest.setTimeout(scaled(60_000));

let cluster: Cluster;
let client: Etcd3;
const cleanup: (() => Promise<void>)[] = [];

useEtcd({ size: 1 }, (started, admin) => {
  cluster = started;
  client = admin;
});

afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
  await expectClean(client, '');
});

/** A connection through its own proxy, so that only it can be cut. */
async function proxied(logger = new RecordingLogger()): Promise<{ conn: EtcdConnection; proxy: Proxy; logger: RecordingLogger }> {
  const member = cluster.members[0]!;
  const proxy = await startProxy({ host: member.host, port: member.clientPort });
  const conn = await connectEtcd({ endpoints: proxy.address, ttlMs: TTL_MS, logger });
  cleanup.push(async () => {
    proxy.heal();
    await conn.close();
    await proxy.close();
  });
  return { conn, proxy, logger };
}

async function direct(): Promise<EtcdConnection> {
  const conn = await connectEtcd({ endpoints: cluster.connectString, ttlMs: TTL_MS, logger: new RecordingLogger() });
  cleanup.push(() => conn.close());
  return conn;
}

describe('a process whose only work is to wait on etcd', () => {
  async function outage(mode: 'campaign' | 'observe'): Promise<string> {
    const name = uniqueName();
    const leader = await (await direct()).election(name).campaign({ id: 'leader' });
    const member = cluster.members[0]!;
    const proxy = await startProxy({ host: member.host, port: member.clientPort });
    cleanup.push(() => proxy.close());
    const script = fileURLToPath(new URL('./support/waiting-campaign.mjs', import.meta.url));
    const child = spawn(process.execPath, [script, proxy.address, name, String(TTL_MS), mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    cleanup.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    if (mode === 'campaign') await eventually(async () => (await residue(client, name)).length === 2, 'the other process queued');
    else await eventually(() => out.includes('leader leader'), 'the other process to see the leader');
    // Not synchronisation but the scenario: etcd unreachable for longer than
    // the TTL. gRPC then holds nothing open, and a wait that held nothing
    // either let the process exit in the middle of its await.
    proxy.cut();
    const over = new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), TTL_MS + scaled(1_000)));
    expect(await Promise.race([exited.then((code) => `exited with ${code}`), over])).toBe('still running');
    proxy.heal();
    await leader.resign();
    expect(await exited).toBe(0);
    return out;
  }

  it('a campaign stays alive through an outage longer than its TTL, and leads once it can', async () => {
    expect(await outage('campaign')).toMatch(/^elected \d+$/m);
  });

  it('an observer stays alive through an outage longer than its TTL, and sees the leader go', async () => {
    expect(await outage('observe')).toMatch(/^leader leader\n(leader leader\n)*leader -\n$/);
  });
});

describe('cutting the client off (blackhole)', () => {
  it('a cut shorter than the deadline: suspended, then resumed; leadership holds', async () => {
    const name = uniqueName();
    const { conn, proxy } = await proxied();
    const election = conn.election(name);
    const events = new Queue<ElectionEvent>(election.events());
    const leadership = await election.campaign({ id: 'a' });
    const before = leadership.deadline;
    proxy.blackhole();
    const suspended = await events.next(eventOf('suspended'), TTL_MS);
    expect((suspended as { deadline: number }).deadline).toBeLessThanOrEqual(before + 1);
    proxy.heal();
    await events.next(eventOf('resumed'), TTL_MS);
    expect(leadership.isLeader).toBe(true);
    await eventually(() => leadership.deadline > before, 'the deadline to move forward');
    // Not synchronisation but the scenario: stay past the deadline the cut
    // would have ended in (and a little more), and nothing is lost.
    await new Promise((r) => setTimeout(r, Math.max(0, before - Date.now()) + scaled(300)));
    expect(leadership.isLeader).toBe(true);
    expect(events.drain().filter((e) => e.type === 'lost')).toEqual([]);
    await leadership.resign();
  });

  it('a cut longer than the deadline: lost with "deadline" before anyone else leads; the lease is replaced and revoked', async () => {
    const name = uniqueName();
    const { conn, proxy } = await proxied();
    const other = await direct();
    const leadership = await conn.election(name).campaign({ id: 'a' });
    let otherLedAt = 0;
    const waiting = other.election(name).campaign({ id: 'b' }).then((l) => ((otherLedAt = Date.now()), l));
    await eventually(async () => (await residue(client, name)).length === 2, 'b queued');
    const oldLease = conn.leaseId;
    const deadline = leadership.deadline;

    const cutAt = Date.now();
    proxy.blackhole();
    await aborted(leadership.signal);
    const lostAt = Date.now();
    expect((leadership.signal.reason as { reason: string }).reason).toBe('deadline');
    // At the deadline (timers may be a little late), never later than TTL after the cut.
    expect(lostAt).toBeGreaterThanOrEqual(Math.floor(deadline) - 5);
    expect(lostAt - cutAt).toBeLessThanOrEqual(TTL_MS);

    const lb = await waiting;
    expect(otherLedAt).toBeGreaterThanOrEqual(lostAt);
    expect(lb.token).toBeGreaterThan(leadership.token);

    // Healed: a fresh lease, the old one revoked (or expired), and a new campaign works.
    proxy.heal();
    await eventually(() => conn.leaseId !== oldLease, 'a fresh lease');
    await eventually(async () => !(await leases(client)).includes(oldLease), 'the abandoned lease to be gone');
    const again = conn.election(name).campaign({ id: 'a' });
    await lb.resign();
    const la2 = await again;
    expect(la2.key).toBe(`${name}/${conn.leaseId}`);
    await la2.resign();
  });

  it('a leader cut off past the deadline whose lease survives (healed before the TTL) still gives up, and its key is removed', async () => {
    const name = uniqueName();
    const { conn, proxy } = await proxied();
    const leadership = await conn.election(name).campaign({ id: 'a' });
    const oldLease = conn.leaseId;
    proxy.blackhole();
    await aborted(leadership.signal);
    // Heal within the margin: the server may still hold the lease, but we gave it up.
    proxy.heal();
    await eventually(async () => (await residue(client, name)).length === 0, 'the abandoned key to be removed');
    await eventually(async () => !(await leases(client)).includes(oldLease), 'the abandoned lease to be revoked');
    expect(leadership.isLeader).toBe(false);
  });
});

describe('answers held back (requests land, replies do not come)', () => {
  it('a campaign aborted after its create was applied but never answered leaves no key behind', async () => {
    const name = uniqueName();
    const member = cluster.members[0]!;
    const proxy = await startProxy({ host: member.host, port: member.clientPort });
    const logger = new RecordingLogger();
    // A TTL well past the create's deadline: the lease outlives the whole
    // scenario, so a key left on it would stay in the queue.
    const conn = await connectEtcd({ endpoints: proxy.address, ttlMs: scaled(10_000), operationTimeoutMs: scaled(1000), logger });
    cleanup.push(async () => {
      proxy.heal();
      await conn.close();
      await proxy.close();
    });
    const leader = await (await direct()).election(name).campaign({ id: 'a' });
    // Our session first (the first campaign grants the lease): what is held
    // back must be the create's answer, not the grant's.
    await (await conn.election(`${name}-warm`).campaign({ id: 'warm' })).resign();
    expect((await conn.election(name).candidates()).map((c) => c.id)).toEqual(['a']);
    proxy.holdReplies();
    const abort = new AbortController();
    let settled = false;
    const outcome = conn
      .election(name)
      .campaign({ id: 'b', signal: abort.signal })
      .then(
        () => 'elected',
        (error: unknown) => error,
      )
      .finally(() => (settled = true));
    await eventually(async () => (await residue(client, name)).length === 2, 'the create to be applied');
    abort.abort();
    // The create's answer never comes; its deadline passes and the campaign
    // gives up (or, fixed, starts withdrawing the key it cannot see).
    await eventually(() => settled || logger.count('campaign-withdraw') === 1, 'the create to be given up');
    // A held connection does not recover by itself (gRPC drops the channel
    // after a deadline); the network heals and requests flow again.
    proxy.heal();
    expect(await outcome).toMatchObject({ name: 'AbortError' });
    expect(await residue(client, name)).toEqual([leader.key]);
    await leader.resign();
  });
});
