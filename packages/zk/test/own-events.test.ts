/**
 * `events()` never reports our own candidate as someone else leading (a
 * `leader` event): ours is `elected`. The leader feed and our candidate run
 * on one connection, and a reading of the queue can show our node before the
 * candidate has the answer to its create, or after it let go (a reading taken
 * before its resign deleted the node). Each round below is one chance for
 * either; before the fix about one round in 75 reported our own node (the
 * smoke test that first caught it did one such round).
 */
import { afterAll, beforeAll, expect, jest, test } from '@jest/globals';
import { scaled, type Cluster } from '@elect/test';
import { EventLog } from './support/events.js';
import { connect, startServer, uniqueName } from './support/zk.js';

jest.setTimeout(scaled(120_000));

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startServer(1);
});
afterAll(async () => {
  await cluster?.close();
});

test('300 handovers to a candidate whose election is listened to: never a `leader` event for it', async () => {
  const a = await connect(cluster.connectString);
  const b = await connect(cluster.connectString);
  const reported: string[] = [];
  try {
    for (let round = 0; round < 300; round++) {
      const name = uniqueName('own-events');
      const [ea, eb] = [a.election(name), b.election(name)];
      const log = new EventLog(eb);
      try {
        const la = await ea.campaign({ id: 'a' });
        const next = eb.campaign({ id: 'b' });
        await la.resign();
        const lb = await next;
        await log.waitFor('elected', 5000);
        await lb.resign();
        await log.waitFor('lost', 5000);
        for (const { event } of log.entries) if (event.type === 'leader' && event.leader?.id === 'b') reported.push(`round ${round}`);
      } finally {
        await log.close();
        await ea.close();
        await eb.close();
      }
    }
  } finally {
    await a.close();
    await b.close();
  }
  expect(reported).toEqual([]);
});
