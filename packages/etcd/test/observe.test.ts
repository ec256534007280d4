/**
 * observe() across broken watch streams and compaction. The observer's
 * connection goes through a proxy that resets every connection (`cut`), so
 * its watch must be re-created: from the revision after the last one it
 * delivered (nothing skipped, nothing repeated), or — when that revision has
 * been compacted away — from a fresh read of the queue.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import type { Etcd3 } from 'etcd3';
import { type LeaderInfo } from '@elect/core';
import { sameLeader } from '@elect/core/backend';
import { connectEtcd, type EtcdConnection } from '@elect/etcd';
import { scaled, startProxy, type Cluster, type Proxy } from '@elect/test';
import { Queue, RecordingLogger, TTL_MS, eventually, expectClean, residue, uniqueName, useEtcd } from './support/harness.js';

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

async function connect(endpoints: string, logger = new RecordingLogger()): Promise<EtcdConnection> {
  const conn = await connectEtcd({ endpoints, ttlMs: TTL_MS, logger });
  cleanup.push(() => conn.close());
  return conn;
}

async function observerBehindProxy(name: string): Promise<{ seen: Queue<LeaderInfo | undefined>; proxy: Proxy; logger: RecordingLogger }> {
  const member = cluster.members[0]!;
  const proxy = await startProxy({ host: member.host, port: member.clientPort });
  cleanup.push(() => proxy.close());
  const logger = new RecordingLogger();
  const conn = await connect(proxy.address, logger);
  const stop = new AbortController();
  cleanup.push(async () => stop.abort());
  return { seen: new Queue(conn.election(name).observe({ signal: stop.signal })), proxy, logger };
}

function noRepeats(values: (LeaderInfo | undefined)[]): void {
  for (let i = 1; i < values.length; i++) expect(sameLeader(values[i - 1], values[i])).toBe(false);
}

describe('observe() across watch restarts and compaction', () => {
  it('resumes a broken watch from the next revision: every change once, in order', async () => {
    const name = uniqueName();
    const { seen, proxy, logger } = await observerBehindProxy(name);
    const got: (LeaderInfo | undefined)[] = [await seen.next()];
    expect(got[0]).toBeUndefined();
    const [a, b] = [await connect(cluster.connectString), await connect(cluster.connectString)];
    const la = await a.election(name).campaign({ id: 'a' });
    got.push(await seen.next());

    proxy.cut(); // the observer's watch breaks and cannot come back yet
    const pb = b.election(name).campaign({ id: 'b' });
    await eventually(async () => (await residue(client, name)).length === 2, 'b to queue');
    await la.proclaim('a2');
    await la.resign();
    const lb = await pb;
    await lb.proclaim('b2');
    // The observer must have seen its watch break before the network heals,
    // so that what it delivers next comes from a resumed watch.
    await eventually(() => logger.count('watch-restart') > 0, 'the observer to see its watch break');
    proxy.heal();

    for (const expected of [{ id: 'a', value: 'a2' }, { id: 'b', value: 'b' }, { id: 'b', value: 'b2' }]) {
      const value = await seen.next();
      expect(value).toMatchObject(expected);
      got.push(value);
    }
    await lb.resign();
    got.push(await seen.next());
    expect(got.at(-1)).toBeUndefined();
    expect(got.map((v) => v?.value)).toEqual([undefined, 'a', 'a2', 'b', 'b2', undefined]);
    noRepeats(got);
  });

  it('after compaction of the revisions it needs, re-reads the queue and goes on (no repeat, never a silent end)', async () => {
    const name = uniqueName();
    const { seen, proxy, logger } = await observerBehindProxy(name);
    const got: (LeaderInfo | undefined)[] = [await seen.next()];
    const [a, b, c] = [await connect(cluster.connectString), await connect(cluster.connectString), await connect(cluster.connectString)];
    const la = await a.election(name).campaign({ id: 'a' });
    got.push(await seen.next());
    expect(got[1]?.id).toBe('a');

    proxy.cut();
    const pb = b.election(name).campaign({ id: 'b' });
    await eventually(async () => (await residue(client, name)).length === 2, 'b to queue');
    await la.resign();
    const lb = await pb;
    const pc = c.election(name).campaign({ id: 'c' });
    await eventually(async () => (await residue(client, name)).length === 2, 'c to queue');
    // Compact everything up to now: the observer's resume revision is gone.
    const now = await client.get('anything').exec();
    await client.kv.compact({ revision: now.header.revision, physical: true });
    proxy.heal();

    const next = await seen.next();
    got.push(next);
    expect(next?.id).toBe('b'); // the state as of the re-read; the changes in between were compacted away
    expect(logger.count('observe-compacted')).toBe(1);
    await lb.resign();
    const lc = await pc;
    const after = await seen.next();
    got.push(after);
    expect(after).toMatchObject({ id: 'c', token: lc.token });
    await lc.resign();
    got.push(await seen.next());
    expect(got.at(-1)).toBeUndefined();
    noRepeats(got);
    expect(seen.done).toBe(false);
  });
});
