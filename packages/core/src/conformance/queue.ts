/**
 * Conformance: many candidates on separate clients — exactly one leads at a
 * time, they lead in queue order, and a leadership change wakes one waiter.
 */
import { expect } from '@jest/globals';
import type { Leadership } from '../contract.js';
import { OneLeader, WakeCounter, info, queued, quiet, show, within } from './kit.js';
import type { Suite } from './suite.js';

const CANDIDATES = 4;
const WAITERS = 4;

export function queue(s: Suite): void {
  s.test(`among ${CANDIDATES} concurrent candidates exactly one leads at a time, and they lead in queue order as leaders resign`, [], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const observer = await s.open(name);
    const seen = s.record(observer.election.observe({ signal: s.signal }));
    expect(await seen.value(t.op, 'the first observation (no leader)')).toBeUndefined();

    const ids = Array.from({ length: CANDIDATES }, (_, i) => `candidate-${i}`);
    const handles = await Promise.all(ids.map(() => s.open(name)));
    const monitor = new OneLeader();
    const campaigns = new Map(ids.map((id, i) => [id, monitor.watch(handles[i]!.election.campaign({ id }))]));
    let leader = await within(Promise.race(campaigns.values()), t.op, 'the first leader');
    const order = await queued(observer.election, (q) => q.length === CANDIDATES, t.op, `all ${CANDIDATES} entries to be queued`);
    for (let i = 1; i < order.length; i++) expect(order[i]!.token > order[i - 1]!.token).toBe(true);

    for (let i = 0; i < CANDIDATES; i++) {
      const expected = order[i]!;
      expect({ id: leader.id, key: leader.key, token: leader.token }).toEqual({ id: expected.id, key: expected.key, token: expected.token });
      expect(await seen.value(t.op, `the observer to report ${expected.id}`)).toMatchObject(info(leader));
      expect(await observer.election.leader()).toMatchObject(info(leader));
      expect(monitor.violations).toEqual([]);
      campaigns.delete(leader.id);
      await within(leader.resign(), t.op, `${leader.id} to resign`);
      if (i + 1 < CANDIDATES) leader = await within(Promise.race(campaigns.values()), t.op, `the leader after ${expected.id}`);
    }
    expect(await seen.value(t.op, 'the observer to report no leader after the last resign')).toBeUndefined();
    expect(monitor.violations).toEqual([]);
    expect(monitor.count).toBe(CANDIDATES);
    expect(await backend.residue(name)).toEqual([]);
  });

  s.test('candidates sharing one connection queue like any others: each has its own entry, one leads at a time, in order', [], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const shared = await s.open(name);
    const monitor = new OneLeader();
    const ids = ['first', 'second', 'third'];
    const campaigns: Array<Promise<Leadership>> = [];
    for (const [i, id] of ids.entries()) {
      // One at a time, so that the queue's order is known.
      campaigns.push(monitor.watch(shared.election.campaign({ id })));
      await queued(shared.election, (q) => q.length === i + 1, t.op, `${id} to be queued`);
    }
    const order = await shared.election.candidates();
    expect(order.map((c) => c.id)).toEqual(ids);
    expect(new Set(order.map((c) => c.key)).size).toBe(ids.length);
    for (const [i, id] of ids.entries()) {
      const leadership = await within(campaigns[i]!, t.op, `${id} to lead`);
      expect(leadership).toMatchObject({ id, key: order[i]!.key, token: order[i]!.token });
      expect(monitor.violations).toEqual([]);
      await within(leadership.resign(), t.op, `${id} to resign`);
    }
    expect(await backend.residue(name)).toEqual([]);
  });

  s.test(`no herd: with ${WAITERS} waiting candidates, each leadership change wakes at most one of them`, [], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const wakes = new WakeCounter();
    const first = await s.open(name, wakes.logger('first'));
    const leadership = await within(first.election.campaign({ id: 'first' }), t.op, 'the first leader');
    const ids = Array.from({ length: WAITERS }, (_, i) => `waiter-${i}`);
    const handles = await Promise.all(ids.map((id) => s.open(name, wakes.logger(id))));
    const campaigns = new Map(ids.map((id, i) => [id, quiet(handles[i]!.election.campaign({ id }))]));
    const order = await queued(first.election, (q) => q.length === WAITERS + 1, t.op, `all ${WAITERS} waiters to be queued`);
    const base = wakes.total;

    let leader: Leadership = leadership;
    for (let change = 1; change <= WAITERS; change++) {
      await within(leader.resign(), t.op, `${leader.id} to resign`);
      campaigns.delete(leader.id);
      leader = await within(Promise.race(campaigns.values()), t.op, `leader #${change + 1}`);
      expect(leader.key).toBe(order[change]!.key);
      // Wakes caused by this change are logged before its new leader is
      // elected; a herd shows here, or at the latest in the next change.
      const woken = wakes.total - base;
      if (woken > change) throw new Error(`${woken} wakes after ${change} leadership change(s): ${show(Object.fromEntries(wakes.byHandle))}`);
    }
    await within(leader.resign(), t.op, `${leader.id} to resign`);
    const woken = wakes.total - base;
    expect(woken).toBeLessThanOrEqual(WAITERS);
    if (woken === 0) throw new Error("no { event: 'wake' } debug record was logged: the backend must log one per wake so herds can be counted");
    expect(await backend.residue(name)).toEqual([]);
  });
}
