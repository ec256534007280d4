/**
 * Network partitions in a private network namespace (process runtime, root):
 * an isolated member stops serving while the majority goes on, and catches up
 * after heal; a client inside the namespace can be cut from one member only.
 * Skipped, with the reason, where namespaces are unavailable.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, jest, test } from '@jest/globals';
import type { Etcd3 } from 'etcd3';
import {
  NetworkNamespace,
  type ProcessCluster,
  requestedRuntime,
  scaled,
  startEtcd,
  startZooKeeper,
  waitUntil,
  withTimeout,
  zooKeeperMode,
} from '../src/index.js';
import type { Member } from '../src/types.js';
import { connectZk, etcdClient, zk, type ZkClient } from './support/clients.js';

jest.setTimeout(scaled(90_000));

const skipReason =
  requestedRuntime() === 'container'
    ? 'network namespaces need the process runtime (ELECT_TEST_RUNTIME=container)'
    : NetworkNamespace.unavailableReason();
if (skipReason !== undefined) console.warn(`network partition tests skipped: ${skipReason}`);
const suite = skipReason === undefined ? describe : describe.skip;

const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});
async function zkClient(connectString: string): Promise<ZkClient> {
  const client = await connectZk(connectString, { sessionTimeoutMs: 20_000 });
  closers.push(() => client.close());
  return client;
}
function etcd(endpoints: string | string[], deadlineMs = 1000): Etcd3 {
  const client = etcdClient(endpoints, { deadlineMs });
  closers.push(() => client.close());
  return client;
}
function addresses(cluster: ProcessCluster, members: readonly Member[]): string {
  return members.map((m) => cluster.endpoints[cluster.members.indexOf(m as never)]!).join(',');
}

/** Runs a command inside the namespace to completion. */
async function runIn(ns: NetworkNamespace, command: string, args: string[], address?: string) {
  const child = ns.spawn(command, args, address === undefined ? {} : { address });
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const code = await withTimeout(
    new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c))),
    15_000,
    `${command} in ${ns.name}`,
  );
  return { code, stdout: stdout.trim() };
}

suite('network partitions in a namespace', () => {
  let ns: NetworkNamespace;
  const pids: number[] = [];
  const dirs: string[] = [];
  beforeAll(async () => {
    ns = await NetworkNamespace.create();
  });
  // Every test starts unpartitioned, even after an earlier one failed half-way.
  afterEach(async () => {
    await ns?.heal();
  });
  afterAll(async () => {
    await ns?.close();
  });

  function remember(cluster: ProcessCluster): void {
    for (const member of cluster.members) {
      pids.push(member.pid!);
      dirs.push(member.dir);
    }
  }

  describe('ZooKeeper ensemble of 3', () => {
    let cluster: ProcessCluster;
    beforeAll(async () => {
      cluster = await startZooKeeper({ size: 3, netns: ns });
      remember(cluster);
    });
    beforeEach(async () => {
      await cluster.waitServing();
    });
    afterAll(async () => {
      await cluster?.close();
    });

    test('members listen on their own loopback addresses and are reachable through bridges', async () => {
      const hosts = cluster.members.map((m) => m.innerHost);
      expect(new Set(hosts).size).toBe(3);
      for (const host of hosts) expect(host).toMatch(/^127\.0\.0\.(?!1$)\d+$/);
      expect(cluster.innerConnectString).toBe(cluster.members.map((m) => m.innerAddress).join(','));
      const client = await zkClient(cluster.connectString);
      await zk.create(client, '/in-namespace', 'yes');
    });

    test('an isolated follower stops serving, the majority serves on, and it catches up after heal', async () => {
      const leader = await cluster.serverLeader();
      const follower = cluster.members.find((m) => m !== leader)!;
      const writer = await zkClient(addresses(cluster, cluster.members.filter((m) => m !== follower)));

      await ns.isolate(follower);
      await waitUntil(async () => (await zooKeeperMode(follower)) === undefined, {
        timeoutMs: 20_000,
        what: 'the isolated follower to stop serving',
      });
      await expect(connectZk(follower.clientAddress, { connectTimeoutMs: 1000 })).rejects.toThrow(/timed out/);
      await zk.createDuringFailover(writer, '/during-partition', 'majority');

      await ns.heal();
      await cluster.waitServing();
      expect(await zooKeeperMode(follower)).toBe('follower');
      const reader = await zkClient(follower.clientAddress);
      expect(await zk.getData(reader, '/during-partition')).toBe('majority');
    });

    test('an isolated leader loses leadership to the majority and rejoins as a follower', async () => {
      const leader = await cluster.serverLeader();
      await ns.isolate(leader);
      // The old leader gives up after syncLimit ticks without a quorum; the majority elects another.
      const next = await waitUntil(async () => ((await cluster.serverLeader()) !== leader ? cluster.serverLeader() : undefined), {
        timeoutMs: 20_000,
        what: 'the majority to elect a new leader',
      });
      expect(next).not.toBe(leader);
      expect(await zooKeeperMode(leader)).toBeUndefined();

      await ns.heal();
      await cluster.waitServing();
      expect(await zooKeeperMode(leader)).toBe('follower');
    });
  });

  describe('etcd cluster of 3', () => {
    let cluster: ProcessCluster;
    beforeAll(async () => {
      cluster = await startEtcd({ size: 3, netns: ns });
      remember(cluster);
    });
    beforeEach(async () => {
      await cluster.waitServing();
    });
    afterAll(async () => {
      await cluster?.close();
    });

    test('a linearizable read on an isolated member fails; it catches up after heal', async () => {
      const leader = await cluster.serverLeader();
      const victim = cluster.members.find((m) => m !== leader)!;
      const majority = etcd(addresses(cluster, cluster.members.filter((m) => m !== victim)).split(','));
      const isolated = etcd(addresses(cluster, [victim]));
      await majority.put('partitioned').value('before');
      expect(await isolated.get('partitioned').string()).toBe('before');

      await ns.isolate(victim);
      // The cut is immediate, but etcd 3.4 was seen answering linearizable reads on the
      // isolated follower for another 0.1-0.2 s: wait for it to stop, then it must keep failing.
      await waitUntil(
        () =>
          isolated.get('partitioned').string().then(
            () => false,
            () => true,
          ),
        { timeoutMs: 10_000, what: 'a linearizable read on the isolated member to fail' },
      );
      await expect(isolated.get('partitioned').string()).rejects.toThrow(/deadline|timed out/i);
      await majority.put('partitioned').value('during');

      await ns.heal();
      expect(
        await waitUntil(async () => ((await isolated.get('partitioned').string()) === 'during' ? true : undefined), {
          timeoutMs: 20_000,
          what: 'the isolated member to catch up',
        }),
      ).toBe(true);
    });

    test('a client inside the namespace can be cut from one member only', async () => {
      const [target, other] = cluster.members;
      await etcd(cluster.connectString).put('from-inside').value('hello');
      const client = await ns.allocateAddress('client');
      const get = (member: Member) =>
        runIn(ns, 'etcdctl', [`--endpoints=${cluster.innerEndpoints[cluster.members.indexOf(member as never)]}`, '--command-timeout=1s', 'get', '--print-value-only', 'from-inside'], client);

      expect(await get(target!)).toEqual({ code: 0, stdout: 'hello' });
      await ns.partition(client, target!);
      expect((await get(target!)).code).not.toBe(0);
      expect(await get(other!)).toEqual({ code: 0, stdout: 'hello' });
      await ns.heal();
      expect(await get(target!)).toEqual({ code: 0, stdout: 'hello' });
    });
  });

  test('closing clusters and the namespace leaves no process, directory or namespace', async () => {
    await ns.close();
    const namespaces = await new Promise<string>((resolve) => {
      const ip = spawn('ip', ['netns', 'list']);
      let out = '';
      ip.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      ip.on('close', () => resolve(out));
    });
    expect(namespaces).not.toContain(ns.name);
    expect(fs.existsSync(ns.dir)).toBe(false);
    expect(pids.length).toBe(6);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
    for (const dir of dirs) expect(fs.existsSync(dir)).toBe(false);
  });
});
