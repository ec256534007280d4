import { afterAll, beforeAll, expect, jest, test } from '@jest/globals';
import type { Cluster } from '@elect/test';
import { children, connect, rawClient, startServer, uniqueName } from './support/zk.js';
import { collected, scaled, waitUntil } from '@elect/test';

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


test('an election handle that was only read from is not kept once dropped; one with a campaign on it is, and closing the connection ends that campaign', async () => {
  const [a, b] = [await connect(cluster.connectString), await connect(cluster.connectString)];
  const name = uniqueName();
  const idle = await (async () => {
    const election = a.election(name);
    await election.leader();
    await election.candidates();
    return new WeakRef(election);
  })();
  // Handles dropped by the caller, each with a campaign on it: a leader and one waiting.
  const leader = await (async () => {
    const election = a.election(name);
    return { leadership: await election.campaign({ id: 'leader' }), ref: new WeakRef(election) };
  })();
  const waiter = (() => {
    const election = b.election(name);
    return { campaign: election.campaign({ id: 'waiting' }), ref: new WeakRef(election) };
  })();
  waiter.campaign.catch(() => {});
  // And one with observers on it, the caller holding only the iterators.
  const watcher = (() => {
    const election = a.election(name);
    return { leaders: election.observe()[Symbol.asyncIterator](), events: election.events()[Symbol.asyncIterator](), ref: new WeakRef(election) };
  })();
  expect((await watcher.leaders.next()).value).toMatchObject({ id: 'leader' });
  const eventsEnd = watcher.events.next();
  const reader = a.election(name);
  await waitUntil(async () => (await reader.candidates()).length === 2, { timeoutMs: 5000, what: 'the second campaign to queue' });
  await reader.close();
  const busy = [leader.ref, waiter.ref];
  expect(await collected(idle)).toBe(true);
  for (const ref of [...busy, watcher.ref]) expect(await collected(ref)).toBe(false);
  await b.close();
  await expect(waiter.campaign).rejects.toMatchObject({ name: 'ClosedError' });
  await a.close();
  expect(leader.leadership.signal.aborted).toBe(true);
  // Closing the connection closed that election too: its observers end.
  await expect(watcher.leaders.next()).resolves.toMatchObject({ done: true });
  await expect(eventsEnd).resolves.toMatchObject({ done: true });
  const raw = await rawClient(cluster.connectString);
  expect(await children(raw, `/elect/${name}`)).toEqual([]);
  raw.close();
});
