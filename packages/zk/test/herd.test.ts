/**
 * No herd: with 50 candidates queued, one leadership change wakes exactly one
 * waiting candidate (counted through the `wake` debug records) and fires
 * exactly one watch on the server (`wchs`: total watches drop by one).
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { fourLetter, parseWatchCount, scaled, waitUntil, type Cluster } from '@elect/test';
import type { Election, Leadership } from '@elect/core';
import type { ZooKeeperConnection } from '@elect/zk';
import { RecordingLogger, children, connect, rawClient, startServer, uniqueName } from './support/zk.js';

jest.setTimeout(scaled(180_000));

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startServer(1);
});
afterAll(async () => {
  await cluster?.close();
});

const connections = 5;
const perConnection = 10;

async function totalWatches(): Promise<number> {
  return parseWatchCount(await fourLetter(cluster.members[0]!, 'wchs'));
}

describe('no herd', () => {
  test('50 candidates: one leadership change fires one watch and wakes one candidate', async () => {
    const name = uniqueName('herd');
    const loggers = Array.from({ length: connections }, () => new RecordingLogger());
    const opened: ZooKeeperConnection[] = [];
    for (const logger of loggers) opened.push(await connect(cluster.connectString, { logger }));
    const elections: Election[] = opened.map((connection) => connection.election(name));
    const wakes = (): number => loggers.reduce((sum, logger) => sum + logger.count('wake'), 0);
    // Every connection answers one more request: notifications sent before it have arrived.
    const settle = async (): Promise<void> => {
      await Promise.all(elections.map((election) => election.candidates()));
    };
    try {
      const campaigns: Array<{ id: string; abort: AbortController; won: Promise<Leadership> }> = [];
      for (let i = 0; i < connections * perConnection; i += 1) {
        const abort = new AbortController();
        const id = `c${String(i).padStart(2, '0')}`;
        const won = elections[i % connections]!.campaign({ id, signal: abort.signal });
        won.catch(() => {});
        campaigns.push({ id, abort, won });
        // Queue them in a known order.
        await waitUntil(async () => (await elections[0]!.candidates()).length === i + 1, { timeoutMs: 10_000, what: `${id} queued` });
      }
      const first = await campaigns[0]!.won;
      // 49 predecessor watches + the leader's watch on its own node.
      await waitUntil(async () => (await totalWatches()) === 50, { timeoutMs: 10_000, what: '50 watches on the server' });
      await settle();
      expect(wakes()).toBe(0);

      // The leader resigns: only c01 wakes.
      await first.resign();
      const second = await campaigns[1]!.won;
      await settle();
      expect(wakes()).toBe(1);
      // c01's predecessor watch fired and c00's own-node watch fired; c01 now watches its own node.
      await waitUntil(async () => (await totalWatches()) === 49, { timeoutMs: 10_000, what: '49 watches on the server' });

      // A waiting candidate in the middle leaves: only its successor wakes.
      campaigns[20]!.abort.abort();
      await expect(campaigns[20]!.won).rejects.toMatchObject({ name: 'AbortError' });
      await waitUntil(async () => !(await elections[0]!.candidates()).some((entry) => entry.id === 'c20'), { timeoutMs: 10_000, what: 'c20 gone' });
      await settle();
      expect(wakes()).toBe(2);
      const woken = loggers.flatMap((logger) => logger.records).filter((record) => record.fields.event === 'wake');
      expect(woken.map((record) => record.fields.id)).toEqual(['c01', 'c21']);
      expect(second.isLeader).toBe(true);
      await second.resign();
    } finally {
      await Promise.all(elections.map((election) => election.close()));
      await Promise.all(opened.map((connection) => connection.close()));
    }
    const client = await rawClient(cluster.connectString);
    expect(await children(client, `/elect/${name}`)).toEqual([]);
    client.close();
  });
});
