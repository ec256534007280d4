/**
 * ZooKeeper in the selected runtime (ELECT_TEST_RUNTIME): it serves real
 * clients, and each fault does what it claims. One standalone server and one
 * ensemble, each shared by the tests of its block (they restore what they break).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, jest, test } from '@jest/globals';
import zookeeper from 'node-zookeeper-client';
import { expireSession, fourLetter, scaled, startZooKeeper, TimeoutError, watchCount, zooKeeperMode } from '../src/index.js';
import type { Cluster } from '../src/index.js';
import { connectZk, nextEvent, zk, type ZkClient } from './support/clients.js';

// Jest applies the project's testTimeout only globally; real servers need the scaled budget here.
jest.setTimeout(scaled(60_000));

const clients = new Set<ZkClient>();
async function client(connectString: string, options?: { sessionTimeoutMs?: number }): Promise<ZkClient> {
  const c = await connectZk(connectString, options);
  clients.add(c);
  return c;
}
afterEach(() => {
  for (const c of clients) c.close();
  clients.clear();
});

describe('ZooKeeper standalone', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startZooKeeper({ size: 1 });
  });
  afterAll(async () => {
    await cluster?.close();
  });

  test('serves a real client request and reports mode standalone', async () => {
    const [member] = cluster.members;
    expect(member!.running).toBe(true);
    expect(await zooKeeperMode(member!)).toBe('standalone');
    expect(await cluster.serverLeader()).toBe(member);
    const c = await client(cluster.connectString);
    await zk.create(c, '/serves', 'yes');
    expect(await zk.getData(c, '/serves')).toBe('yes');
  });

  test('counts watches with wchs', async () => {
    const [member] = cluster.members;
    const c = await client(cluster.connectString);
    await zk.create(c, '/watched', 'x');
    const before = await watchCount(member!);
    const watch = zk.watchData(c, '/watched');
    await watch.data;
    expect(await watchCount(member!)).toBe(before + 1);
    expect(await fourLetter(member!, 'ruok')).toBe('imok');
  });

  test('an expired session is reported `expired` to its client, and its ephemerals are gone', async () => {
    const victim = await client(cluster.connectString);
    const observer = await client(cluster.connectString);
    await zk.create(victim, '/ephemeral', 'mine', zookeeper.CreateMode.EPHEMERAL);
    const expired = nextEvent(victim, 'expired', 10_000, 'the victim to be told `expired`');
    await expireSession(cluster.connectString, victim);
    await expired;
    expect(await zk.exists(observer, '/ephemeral')).toBe(false);
  });

  test('a paused server stops answering and recovers on resume', async () => {
    const [member] = cluster.members;
    const c = await client(cluster.connectString, { sessionTimeoutMs: 20_000 });
    await zk.create(c, '/paused', 'before');
    await member!.pause();
    try {
      await expect(fourLetter(member!, 'srvr', { timeoutMs: 500 })).rejects.toThrow(/no answer/);
      const pending = zk.getData(c, '/paused', 30_000);
      await expect(zk.getData(c, '/paused', 500)).rejects.toBeInstanceOf(TimeoutError);
      await member!.resume();
      expect(await pending).toBe('before'); // the request sent while paused is answered
    } finally {
      if (member!.running) await member!.resume().catch(() => {});
    }
    expect(await zooKeeperMode(member!)).toBe('standalone');
  });

  test('stop refuses connections; start serves again; restart keeps data', async () => {
    const [member] = cluster.members;
    const c = await client(cluster.connectString);
    await zk.create(c, '/durable', 'kept');
    c.close();
    clients.delete(c);

    await member!.stop();
    expect(member!.running).toBe(false);
    await expect(fourLetter(member!, 'srvr')).rejects.toThrow(/ECONNREFUSED/);
    await member!.start();
    expect(member!.running).toBe(true);
    expect(await zk.getData(await client(cluster.connectString), '/durable')).toBe('kept');

    await member!.restart();
    expect(await zk.getData(await client(cluster.connectString), '/durable')).toBe('kept');
    await member!.kill();
    await member!.start();
    expect(await zk.getData(await client(cluster.connectString), '/durable')).toBe('kept');
  });
});

describe('ZooKeeper ensemble of 3', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startZooKeeper({ size: 3 });
  });
  // Each test starts from a whole ensemble, even after an earlier one failed half-way.
  beforeEach(async () => {
    await Promise.all(cluster.members.filter((m) => !m.running).map((m) => m.start()));
    await cluster.waitServing();
  });
  afterAll(async () => {
    await cluster?.close();
  });

  test('has one leader and two followers, and every member serves', async () => {
    const modes = await Promise.all(cluster.members.map((m) => zooKeeperMode(m)));
    expect(modes.filter((m) => m === 'leader')).toHaveLength(1);
    expect(modes.filter((m) => m === 'follower')).toHaveLength(2);
    const leader = await cluster.serverLeader();
    expect(await zooKeeperMode(leader)).toBe('leader');
    expect(cluster.endpoints).toHaveLength(3);
    expect(cluster.connectString).toBe(cluster.endpoints.join(','));

    const writer = await client(cluster.members[0]!.clientAddress);
    await zk.create(writer, '/ensemble', 'one');
    for (const member of cluster.members) {
      const reader = await client(member.clientAddress);
      expect(await zk.getData(reader, '/ensemble')).toBe('one');
    }
  });

  test('keeps serving with the leader killed, and the old leader rejoins', async () => {
    const leader = await cluster.serverLeader();
    const c = await client(cluster.connectString);
    await leader.kill();
    expect(leader.running).toBe(false);
    // The survivors elect a new leader; the client finds a server that serves.
    await zk.createDuringFailover(c, '/after-leader-kill', 'ok');
    const next = await cluster.serverLeader();
    expect(next).not.toBe(leader);
    expect(await zooKeeperMode(next)).toBe('leader');

    await leader.start();
    expect(await zooKeeperMode(leader)).toBe('follower');
    const reader = await client(leader.clientAddress);
    expect(await zk.getData(reader, '/after-leader-kill')).toBe('ok');
  });

  test('keeps serving with a follower killed', async () => {
    const leader = await cluster.serverLeader();
    const follower = cluster.members.find((m) => m !== leader)!;
    await follower.kill();
    const survivors = cluster.members.filter((m) => m !== follower).map((m) => m.clientAddress).join(',');
    const c = await client(survivors);
    await zk.createDuringFailover(c, '/after-follower-kill', 'ok');
    expect(await cluster.serverLeader()).toBe(leader);
    await follower.start();
    await cluster.waitServing();
  });
});
