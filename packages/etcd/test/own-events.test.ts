/**
 * `events()` never reports our own candidate as someone else leading (a
 * `leader` event): ours is `elected`. The leader feed and our candidate share
 * one connection, and a reading can show our key before the candidate has
 * the answer to its create, or after it let go. Each round below is one
 * chance for either.
 */
import { afterAll, beforeAll, expect, it, jest } from '@jest/globals';
import type { ElectionEvent } from '@elect/core';
import { connectEtcd, type EtcdConnection } from '@elect/etcd';
import { scaled, startEtcd, type Cluster } from '@elect/test';
import { RecordingLogger, TTL_MS, eventually, uniqueName } from './support/harness.js';

jest.setTimeout(scaled(120_000));

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startEtcd({ size: 1 });
});
afterAll(async () => {
  await cluster?.close();
});

it('300 handovers to a candidate whose election is listened to: never a `leader` event for it', async () => {
  const open = (): Promise<EtcdConnection> => connectEtcd({ endpoints: cluster.connectString, ttlMs: TTL_MS, logger: new RecordingLogger() });
  const [a, b] = await Promise.all([open(), open()]);
  const reported: string[] = [];
  try {
    for (let round = 0; round < 300; round++) {
      const name = uniqueName('own-events');
      const [ea, eb] = [a.election(name), b.election(name)];
      const stop = new AbortController();
      const seen: ElectionEvent[] = [];
      const listening = (async () => {
        for await (const event of eb.events({ signal: stop.signal })) seen.push(event);
      })().catch(() => {});
      try {
        const la = await ea.campaign({ id: 'a' });
        const next = eb.campaign({ id: 'b' });
        await la.resign();
        const lb = await next;
        await lb.resign();
        await eventually(() => seen.some((event) => event.type === 'lost'), 'b to hear of its own loss');
        for (const event of seen) if (event.type === 'leader' && event.leader?.id === 'b') reported.push(`round ${round}`);
      } finally {
        stop.abort();
        await ea.close();
        await eb.close();
        await listening;
      }
    }
  } finally {
    await a.close();
    await b.close();
  }
  expect(reported).toEqual([]);
});
