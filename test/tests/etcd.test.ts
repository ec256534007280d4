/**
 * etcd in the selected runtime (ELECT_TEST_RUNTIME): it serves real clients,
 * and each fault does what it claims. One single member and one 3-member
 * cluster, each shared by the tests of its block (they restore what they break).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, jest, test } from '@jest/globals';
import type { Etcd3 } from 'etcd3';
import { scaled, startEtcd, waitUntil } from '../src/index.js';
import type { Cluster, Member } from '../src/index.js';
import { etcdClient } from './support/clients.js';

jest.setTimeout(scaled(60_000));

const clients = new Set<Etcd3>();
function client(endpoints: string | readonly string[], options?: { deadlineMs?: number }): Etcd3 {
  const c = etcdClient(endpoints, options);
  clients.add(c);
  return c;
}
afterEach(() => {
  for (const c of clients) c.close();
  clients.clear();
});

/** The client URL of one member, as the cluster lists it. */
function endpointOf(cluster: Cluster, member: Member): string {
  return cluster.endpoints[cluster.members.indexOf(member)]!;
}

describe('etcd single member', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startEtcd({ size: 1 });
  });
  beforeEach(async () => {
    const [member] = cluster.members;
    if (!member!.running) await member!.start();
  });
  afterAll(async () => {
    await cluster?.close();
  });

  test('serves a real client request and leads itself', async () => {
    expect(cluster.kind).toBe('etcd');
    expect(cluster.endpoints[0]).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await cluster.serverLeader()).toBe(cluster.members[0]);
    const c = client(cluster.connectString);
    await c.put('serves').value('yes');
    expect(await c.get('serves').string()).toBe('yes');
  });

  test('a paused member stops answering and recovers on resume', async () => {
    const [member] = cluster.members;
    const c = client(cluster.connectString, { deadlineMs: 500 });
    await c.put('paused').value('before');
    await member!.pause();
    try {
      await expect(c.get('paused').string()).rejects.toThrow(/deadline|timed out/i);
    } finally {
      await member!.resume();
    }
    expect(await c.get('paused').string()).toBe('before');
  });

  test('stop refuses requests; start serves again; restart and kill keep data', async () => {
    const [member] = cluster.members;
    const c = client(cluster.connectString, { deadlineMs: 1000 });
    await c.put('durable').value('kept');

    await member!.stop();
    expect(member!.running).toBe(false);
    await expect(c.get('durable').string()).rejects.toThrow();
    await member!.start();
    expect(await client(cluster.connectString).get('durable').string()).toBe('kept');

    await member!.restart();
    expect(await client(cluster.connectString).get('durable').string()).toBe('kept');
    await member!.kill();
    await member!.start();
    expect(await client(cluster.connectString).get('durable').string()).toBe('kept');
  });
});

describe('etcd cluster of 3', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startEtcd({ size: 3 });
  });
  // Each test starts from a whole cluster, even after an earlier one failed half-way.
  beforeEach(async () => {
    await Promise.all(cluster.members.filter((m) => !m.running).map((m) => m.start()));
    await cluster.waitServing();
  });
  afterAll(async () => {
    await cluster?.close();
  });

  test('every member serves, and one leads', async () => {
    expect(cluster.endpoints).toHaveLength(3);
    expect(cluster.connectString).toBe(cluster.endpoints.join(','));
    await client(cluster.endpoints[0]!).put('everywhere').value('one');
    for (const endpoint of cluster.endpoints) {
      expect(await client(endpoint).get('everywhere').string()).toBe('one');
    }
    expect(cluster.members).toContain(await cluster.serverLeader());
  });

  test('keeps serving with the leader killed, and the old leader catches up', async () => {
    const leader = await cluster.serverLeader();
    await leader.kill();
    expect(leader.running).toBe(false);
    const survivors = cluster.members.filter((m) => m !== leader).map((m) => endpointOf(cluster, m));
    const c = client(survivors);
    // Proposals fail until the survivors have elected a new leader (about one election timeout).
    await waitUntil(async () => (await c.put('after-leader-kill').value('ok'), true), {
      timeoutMs: 30_000,
      what: 'a write to succeed without the old leader',
    });
    expect(await c.get('after-leader-kill').string()).toBe('ok');
    const next = await cluster.serverLeader();
    expect(next).not.toBe(leader);

    await leader.start();
    // A linearizable read on the old leader: it has rejoined and caught up.
    expect(await client(endpointOf(cluster, leader)).get('after-leader-kill').string()).toBe('ok');
  });

  test('keeps serving with a follower killed', async () => {
    const leader = await cluster.serverLeader();
    const follower = cluster.members.find((m) => m !== leader)!;
    await follower.kill();
    const c = client(cluster.members.filter((m) => m !== follower).map((m) => endpointOf(cluster, m)));
    await c.put('after-follower-kill').value('ok');
    expect(await c.get('after-follower-kill').string()).toBe('ok');
    expect(await cluster.serverLeader()).toBe(leader);
  });
});
