import { afterAll, beforeAll, expect, jest, test } from '@jest/globals';
import type { Cluster } from '@elect/test';
import { children, connect, rawClient, startServer, uniqueName } from './support/zk.js';
import { signalHolds } from '@elect/core/testing';
import { campaignRounds, scaled, waitUntil } from '@elect/test';

// The root config's testTimeout does not reach projects: set it here, on the timing base.
jest.setTimeout(scaled(120_000));

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startServer(1);
});
afterAll(async () => {
  await cluster?.close();
});

test('campaign, leader, candidates, resign', async () => {
  const a = await connect(cluster.connectString);
  const b = await connect(cluster.connectString);
  const name = uniqueName();
  const ea = a.election(name);
  const eb = b.election(name);
  const la = await ea.campaign({ id: 'a' });
  expect(la.isLeader).toBe(true);
  const pb = eb.campaign({ id: 'b', value: 'bee' });
  const cands = await waitUntil(async () => {
    const queue = await eb.candidates();
    return queue.length === 2 && queue;
  }, { timeoutMs: 5000, what: 'b to queue behind a' });
  expect(cands.map((c) => c.id)).toEqual(['a', 'b']);
  expect((await eb.leader())?.id).toBe('a');
  await la.resign();
  expect(la.signal.aborted).toBe(true);
  const lb = await pb;
  expect(lb.token > la.token).toBe(true);
  expect((await ea.leader())?.value).toBe('bee');
  await lb.proclaim('buzz');
  expect((await ea.leader())?.value).toBe('buzz');
  await ea.close();
  await eb.close();
  const raw = await rawClient(cluster.connectString);
  expect(await children(raw, `/elect/${name}`)).toEqual([]);
  raw.close();
  await a.close();
  await b.close();
});

test('reads, campaigns, handovers and observers leave nothing on the election\'s signal or the caller\'s: a handle used per request does not grow', async () => {
  const connection = await connect(cluster.connectString);
  const election = connection.election(uniqueName());
  const own = (election as unknown as { closing: AbortController }).closing.signal;
  const caller = new AbortController();
  try {
    for (let i = 0; i < 100; i += 1) {
      await election.leader({ signal: caller.signal });
      await election.candidates();
    }
    await campaignRounds(election, caller.signal);
    const seen = election.observe({ signal: caller.signal })[Symbol.asyncIterator]();
    expect((await seen.next()).value).toBeUndefined();
    await seen.return?.();
    const none = { listeners: 0, dependants: 0 };
    expect({ own: signalHolds(own), caller: signalHolds(caller.signal) }).toEqual({ own: none, caller: none });
  } finally {
    await connection.close();
  }
});
