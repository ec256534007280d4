/**
 * Wire compatibility with Apache Curator's LeaderLatch: our candidates and
 * Curator participants (a JVM of ours, compiled here) join one latch path,
 * agree on the leader, and agree on each successor as leaders leave.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { scaled, waitUntil, type Cluster } from '@elect/test';
import type { LeaderInfo } from '@elect/core';
import type { ZooKeeperConnection } from '@elect/zk';
import { CuratorDriver, compileDriver, curatorMissing } from './support/curator.js';
import { children, connect, rawClient, sessionTimeoutMs, startServer, uniqueName } from './support/zk.js';

jest.setTimeout(scaled(180_000));

let cluster: Cluster;
let compiled: { classpath: string; dir: string };

beforeAll(async () => {
  const missing = curatorMissing();
  if (missing) throw new Error(missing);
  [cluster, compiled] = await Promise.all([startServer(1), compileDriver()]);
});

afterAll(async () => {
  await cluster?.close();
  if (compiled) fs.rmSync(compiled.dir, { recursive: true, force: true });
});

describe('interop with Curator LeaderLatch', () => {
  test('Node and JVM candidates share one election and agree on every leader in turn', async () => {
    const latchPath = `/services/${uniqueName('interop')}/leader`;
    const connection: ZooKeeperConnection = await connect(cluster.connectString);
    const driver = new CuratorDriver(compiled.classpath, cluster.connectString, latchPath, sessionTimeoutMs);
    const election = connection.election(latchPath);
    const seen: Array<string | undefined> = [];
    const stop = new AbortController();
    const observing = (async () => {
      for await (const leader of election.observe({ signal: stop.signal }) as AsyncIterable<LeaderInfo | undefined>) seen.push(leader?.id);
    })();
    try {
      await waitUntil(() => seen.length === 1, { timeoutMs: 10_000, what: 'the first reading (nobody leads yet)' });
      // Queue order: node-a, jvm-1, node-b, jvm-2.
      const a = await election.campaign({ id: 'node-a' });
      driver.send('start jvm-1');
      await driver.expect(/^STARTED jvm-1 /);
      const b = election.campaign({ id: 'node-b' });
      await waitUntil(async () => (await election.candidates()).length === 3, { timeoutMs: 10_000, what: 'node-b queued' });
      driver.send('start jvm-2');
      await driver.expect(/^STARTED jvm-2 /);

      const ours = (await election.candidates()).map((entry) => entry.id);
      expect(ours).toEqual(['node-a', 'jvm-1', 'node-b', 'jvm-2']);
      expect(await driver.ask('participants')).toBe(ours.join(','));
      expect(await driver.ask('leader')).toBe('node-a');
      // Curator's nodes look like ours: _c_<uuid>-latch-<seq>.
      const client = await rawClient(cluster.connectString);
      const names = await children(client, latchPath);
      client.close();
      expect(names).toHaveLength(4);
      for (const child of names) expect(child).toMatch(/^_c_[0-9a-f-]{36}-latch-\d{10}$/);

      // node-a leaves: Curator's jvm-1 takes over, and we see it.
      let from = driver.lines.length;
      await a.resign();
      await driver.expect(/^LEADER jvm-1$/, from);
      expect((await election.leader())?.id).toBe('jvm-1');

      // jvm-1 leaves: our node-b takes over, and Curator sees it.
      driver.send('close jvm-1');
      const second = await b;
      expect(second.id).toBe('node-b');
      expect(await driver.ask('leader')).toBe('node-b');

      // node-b leaves: jvm-2 takes over.
      from = driver.lines.length;
      await second.resign();
      await driver.expect(/^LEADER jvm-2$/, from);
      expect((await election.leader())?.id).toBe('jvm-2');
      // Nobody but jvm-2 ever claimed leadership on the JVM side out of turn.
      expect(driver.lines.filter((line) => line.startsWith('LEADER'))).toEqual(['LEADER jvm-1', 'LEADER jvm-2']);

      driver.send('close jvm-2');
      await driver.expect(/^CLOSED jvm-2$/);
      await waitUntil(() => seen.length === 6, { timeoutMs: 10_000, what: 'the observer to see no leader' });
      expect(seen).toEqual([undefined, 'node-a', 'jvm-1', 'node-b', 'jvm-2', undefined]);
    } finally {
      stop.abort();
      await observing;
      await driver.quit();
      await election.close();
      await connection.close();
    }
    const client = await rawClient(cluster.connectString);
    expect(await children(client, latchPath)).toEqual([]);
    client.close();
  });
});
