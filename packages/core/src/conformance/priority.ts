/**
 * Conformance: priority elections. The highest priority among waiting
 * candidates leads at the next change (ties by queue order); `preempt` makes
 * a lower-priority leader yield, and the preemptor leads only once the
 * yielding leader has resigned; `handover` moves leadership to a chosen
 * waiting candidate; the new leader tells how it came to lead (`via`); a priority election and a plain one never share a name.
 * Through all of it: one leader at a time, fencing tokens strictly increasing.
 */
import { expect } from '@jest/globals';
import type { CampaignOptions, Election, Leadership } from '../contract.js';
import { ErrorCode } from '../errors.js';
import { signalHolds } from '../testing/signals.js';
import { OneLeader, WakeCounter, abortedAt, info, lossReason, queued, quiet, show, stamp, within } from './kit.js';
import type { Suite } from './suite.js';
import type { ConformanceHandle } from './types.js';

export function priority(s: Suite): void {
  s.test('the waiting candidate with the highest priority leads next, ties in queue order; candidates() shows priorities in that order', [], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const monitor = new OneLeader();
    const first = await s.open(name);
    let leader = await within(monitor.watch(first.election.campaign({ id: 'low', priority: 1 })), t.op, 'the first leader');
    const waiting: Array<[CampaignOptions, Promise<Leadership>, ConformanceHandle]> = [];
    for (const options of [
      { id: 'five', priority: 5 },
      { id: 'nine-a', priority: 9 },
      { id: 'nine-b', priority: 9 },
      { id: 'zero', priority: 0 },
    ]) {
      const handle = await s.open(name);
      waiting.push([options, monitor.watch(handle.election.campaign(options)), handle]);
      await queued(first.election, (q) => q.length === waiting.length + 1, t.op, `${options.id} to be queued`);
    }
    const queue = await first.election.candidates();
    expect(queue.map((c) => [c.id, c.priority])).toEqual([
      ['low', 1],
      ['nine-a', 9],
      ['nine-b', 9],
      ['five', 5],
      ['zero', 0],
    ]);
    expect(queue[0]).toMatchObject(info(leader));
    expect(await first.election.leader()).toMatchObject({ ...info(leader), priority: 1 });

    const campaigns = new Map(waiting.map(([options, campaign]) => [options.id, campaign]));
    const handles = new Map(waiting.map(([options, , handle]) => [options.id, handle]));
    for (const expected of ['nine-a', 'nine-b', 'five', 'zero']) {
      const previous = leader;
      await within(previous.resign(), t.op, `${previous.id} to resign`);
      leader = await within(campaigns.get(expected) as Promise<Leadership>, t.op, `${expected} to lead after ${previous.id}`);
      campaigns.delete(expected);
      expect(leader.token > previous.token).toBe(true);
      // Read where the change is known to have been seen (types.ts).
      const now = await handles.get(expected)?.election.leader();
      expect(now).toMatchObject(info(leader));
      // An ordinary succession: not a preemption, not a handover.
      expect(now?.via).toBeUndefined();
      expect(monitor.violations).toEqual([]);
    }
    await within(leader.resign(), t.op, `${leader.id} to resign`);
    expect(monitor.count).toBe(5);
    expect(await backend.residue(name)).toEqual([]);
  });

  s.test('without preempt a higher priority does not unseat the leader: it leads at the next change', [], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const a = await s.open(name);
    const b = await s.open(name);
    const low = await within(a.election.campaign({ id: 'low', priority: 1 }), t.op, 'the first leader');
    const high = stamp(b.election.campaign({ id: 'high', priority: 9 }));
    await queued(a.election, (q) => q.length === 2, t.op, 'high to be queued');
    // (A claim that nothing happens: checked after a round trip that follows high's entry.)
    expect(await a.election.leader()).toMatchObject(info(low));
    expect(low.isLeader).toBe(true);
    await within(low.resign(), t.op, 'low to resign');
    const next = await within(high, t.op, 'high to lead after low resigned');
    expect(next.value.token > low.token).toBe(true);
    await within(next.value.resign(), t.op, 'high to resign');
    expect(await backend.residue(name)).toEqual([]);
  });

  s.test('preempt: the leader of lower priority yields (reason "preempted") and the preemptor leads only after it resigned', [], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const monitor = new OneLeader();
    const a = await s.open(name);
    const b = await s.open(name);
    const low = await within(monitor.watch(a.election.campaign({ id: 'low', priority: 1 })), t.op, 'the first leader');
    const preemptor = stamp(monitor.watch(b.election.campaign({ id: 'high', priority: 5, preempt: true })));
    await within(
      abortedAt(low.signal),
      t.op,
      "low's signal to abort when a preempting candidate of higher priority waits",
    );
    expect(lossReason(low.signal.reason)).toBe('preempted');
    // Its work may still be stopping: nobody leads until it resigns.
    expect(await b.election.leader()).toMatchObject({ id: 'low', token: low.token });
    const resigned = performance.now();
    await within(low.resign(), t.op, 'low to resign');
    const high = await within(preemptor, t.op, 'the preemptor to lead after low resigned');
    expect(high.at).toBeGreaterThanOrEqual(resigned);
    expect(high.value.token > low.token).toBe(true);
    expect(await b.election.leader()).toMatchObject({ ...info(high.value), via: 'preempted' });
    expect(monitor.violations).toEqual([]);

    // An equal priority does not preempt, even with preempt.
    const c = await s.open(name);
    const equal = quiet(c.election.campaign({ id: 'equal', priority: 5, preempt: true }));
    await queued(a.election, (q) => q.length === 2, t.op, 'equal to be queued');
    expect(await a.election.leader()).toMatchObject(info(high.value));
    expect(high.value.isLeader).toBe(true);
    await within(high.value.resign(), t.op, 'high to resign');
    await within(equal, t.op, 'equal to lead').then((l) => l.resign());
    expect(await backend.residue(name)).toEqual([]);
  });

  s.test('a preempted leader that never resigns lets the preemptor lead at the latest one session timeout later', [], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const a = await s.open(name);
    const b = await s.open(name);
    const low = await within(a.election.campaign({ id: 'stubborn', priority: 1 }), t.op, 'the first leader');
    const high = b.election.campaign({ id: 'high', priority: 5, preempt: true });
    const high2 = await within(high, t.session + t.op + t.slack, 'the preemptor to lead though the preempted leader never resigned');
    expect(lossReason(low.signal.reason)).toBe('preempted');
    expect(high2.token > low.token).toBe(true);
    await within(high2.resign(), t.op, 'high to resign');
    await within(low.resign(), t.op, 'the late resign to clean up');
    expect(await backend.residue(name)).toEqual([]);
  });

  s.test('handover({ to }) hands leadership to the chosen waiting candidate, past higher priorities; an unknown one is refused', [], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const monitor = new OneLeader();
    const a = await s.open(name);
    const leader = await within(monitor.watch(a.election.campaign({ id: 'leader', priority: 1 })), t.op, 'the first leader');
    const b = await s.open(name);
    const c = await s.open(name);
    const top = monitor.watch(b.election.campaign({ id: 'top', priority: 9 }));
    const chosen = stamp(monitor.watch(c.election.campaign({ id: 'chosen', priority: 5 })));
    await queued(a.election, (q) => q.length === 3, t.op, 'both to be queued');
    // A later candidate sorts in between top and chosen (chosen re-reads once
    // and waits on it): the handover must still reach chosen, not the one ahead of it.
    const d = await s.open(name);
    const between = monitor.watch(d.election.campaign({ id: 'between', priority: 7 }));
    await queued(a.election, (q) => q.length === 4, t.op, 'between to be queued');

    await expect(leader.handover({ to: 'nobody' })).rejects.toMatchObject({ code: ErrorCode.InvalidOption, option: 'to' });
    await expect(leader.handover({ to: 'leader' })).rejects.toMatchObject({ code: ErrorCode.InvalidOption, option: 'to' });
    expect(leader.isLeader).toBe(true);

    const handing = within(leader.handover({ to: 'chosen' }), t.op, 'the handover to complete');
    const next = await within(chosen, t.op, 'chosen to lead');
    expect(lossReason(leader.signal.reason)).toBe('handover');
    await handing;
    expect(next.value.token > leader.token).toBe(true);
    expect(await c.election.leader()).toMatchObject({ ...info(next.value), via: 'handover' });
    expect(monitor.violations).toEqual([]);
    await within(next.value.resign(), t.op, 'chosen to resign');
    await within(top, t.op, 'top to lead after chosen').then((l) => l.resign());
    await within(between, t.op, 'between to lead last').then((l) => l.resign());
    expect(monitor.violations).toEqual([]);
    expect(await backend.residue(name)).toEqual([]);
  });

  s.test('no herd in a priority election: a newcomer wakes the one waiter it passes; then a change wakes one waiter, and proclaim() none', [], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const wakes = new WakeCounter();
    const first = await s.open(name, wakes.logger('leader'));
    let leader = await within(first.election.campaign({ id: 'leader', priority: 5 }), t.op, 'the first leader');
    // Each newcomer sorts in ahead of every waiter. Left alone, all of them
    // would wait on the record, and its next change would wake them all; a
    // newcomer wakes the one waiter it passes instead (unless that one's own
    // reading already saw it), which then waits on the newcomer.
    const campaigns = await joinInTurn(s, name, first.election, wakes, [1, 3, 7, 9].map((priority) => [`p${priority}`, priority] as const));
    // Every waiter waits on the one just ahead of it (the first: on the record), as its last `waiting` record says.
    const order = (await first.election.candidates()).slice(1).map((c) => c.key);
    await wakes.until(
      () => order.every((key, i) => (i === 0 ? wakes.waitsOn.has(key) && !order.includes(wakes.waitsOn.get(key) as string) : wakes.waitsOn.get(key) === order[i - 1])),
      t.op,
      'each waiter to wait on the one just ahead of it',
    );
    expect(wakes.total).toBeLessThanOrEqual(3);
    // A newcomer's touch can reach the waiter it passed after that waiter's
    // own reading already showed the newcomer (and so after the wait above
    // is over): such a wake may land in any later window. Touches are
    // counted apart, against their own bound below; a change (or a proclaim)
    // is judged by the wakes of what the candidates waited on.
    const waitedOn = (): number => wakes.total - wakes.touches;
    let before = waitedOn();
    for (const value of ['v1', 'v2', 'v3']) await within(leader.proclaim(value), t.op, `proclaim(${value})`);
    for (const [i, id] of ['p9', 'p7', 'p3', 'p1'].entries()) {
      await within(leader.resign(), t.op, `${leader.id} to resign`);
      leader = await within(campaigns.get(id) as Promise<Leadership>, t.op, `${id} to lead`);
      // Wakes of this change (and, in the first, of the proclaims) are logged before its new leader is elected.
      const woken = waitedOn() - before;
      if (woken > 1) throw new Error(`${woken} wakes in leadership change #${i + 1}: ${show(Object.fromEntries(wakes.byHandle))}`);
      before = waitedOn();
    }
    await within(leader.resign(), t.op, `${leader.id} to resign`);
    // p3, p7 and p9 each passed one waiter; nothing else here touches an entry.
    expect(wakes.touches).toBeLessThanOrEqual(3);
    expect(await backend.residue(name)).toEqual([]);
  });

  s.test('a handover wakes its target only: the first waiter keeps waiting on the record while it passes from hand to hand', [], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const wakes = new WakeCounter();
    const first = await s.open(name, wakes.logger('leader'));
    const leader = await within(first.election.campaign({ id: 'leader', priority: 5 }), t.op, 'the first leader');
    // Joined highest first, each sorts in behind the others: nobody is touched.
    const campaigns = await joinInTurn(s, name, first.election, wakes, [
      ['top', 9],
      ['mid', 3],
      ['chosen', 1],
    ]);
    const keys = (await first.election.candidates()).slice(1).map((c) => c.key);
    await wakes.until(() => keys.every((key) => wakes.waitsOn.has(key)), t.op, 'every waiter to wait');
    const woken = (id: string): number => wakes.byHandle.get(id) ?? 0;
    const topBefore = woken('top');
    await within(leader.handover({ to: 'chosen' }), t.op, 'the handover to chosen');
    const chosen = await within(campaigns.get('chosen') as Promise<Leadership>, t.op, 'chosen to lead');
    await within(chosen.resign(), t.op, 'chosen to resign');
    const top = await within(campaigns.get('top') as Promise<Leadership>, t.op, 'top to lead after chosen');
    // top waited on the record all along: its mark for chosen and its
    // replacement by chosen's are not departures; only chosen's resign was.
    expect({ top: woken('top') - topBefore }).toEqual({ top: 1 });
    await within(top.resign(), t.op, 'top to resign');
    await within(campaigns.get('mid') as Promise<Leadership>, t.op, 'mid to lead last').then((l) => l.resign());
    expect(await backend.residue(name)).toEqual([]);
  });

  s.test("deleting the leader's entry in a priority election hands leadership on at once, as in a plain one", ['delete'], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const a = await s.open(name);
    const b = await s.open(name);
    const leader = await within(a.election.campaign({ id: 'leader', priority: 5 }), t.op, 'the first leader');
    const next = quiet(b.election.campaign({ id: 'next', priority: 1 }));
    await queued(a.election, (q) => q.length === 2, t.op, 'next to be queued');
    await s.deleteEntry(leader.key);
    // The old leader never resigns here: its record must go with its entry.
    const led = await within(next, t.op, 'next to lead after the leader\'s entry was deleted');
    expect(lossReason(leader.signal.reason)).toBe('deleted');
    expect(led.token > leader.token).toBe(true);
    await within(led.resign(), t.op, 'next to resign');
    expect(await backend.residue(name)).toEqual([]);
  });

  s.test('election.handover() asks the leader from another client: it yields, resigns once its work stopped, and the chosen one leads', [], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const a = await s.open(name);
    const b = await s.open(name);
    const operator = await s.open(name);
    const leader = await within(a.election.campaign({ id: 'leader', priority: 5 }), t.op, 'the first leader');
    const chosen = quiet(b.election.campaign({ id: 'chosen', priority: 1 }));
    // Without the handover, `top` would lead next.
    const top = quiet(b.election.campaign({ id: 'top', priority: 9 }));
    await queued(a.election, (q) => q.length === 3, t.op, 'chosen and top to be queued');
    await expect(operator.election.handover({ to: 'nobody' })).rejects.toMatchObject({ code: ErrorCode.InvalidOption, option: 'to' });
    expect(leader.isLeader).toBe(true);

    // The operator's own long-lived signal: the handover leaves nothing on it.
    const { signal } = new AbortController();
    const asked = quiet(operator.election.handover({ to: 'chosen', signal }));
    await within(
      abortedAt(leader.signal),
      t.op,
      "the leader's signal to abort when a handover is asked for",
    );
    expect(lossReason(leader.signal.reason)).toBe('handover');
    await within(leader.resign(), t.op, 'the leader to resign once its work stopped');
    const next = await within(chosen, t.op, 'chosen to lead');
    expect(await within(asked, t.op, 'handover() to resolve')).toMatchObject({ ...info(next), via: 'handover' });
    expect(signalHolds(signal)).toEqual({ listeners: 0, dependants: 0 });
    expect(next.token > leader.token).toBe(true);
    await within(next.resign(), t.op, 'chosen to resign');
    await within(top, t.op, 'top to lead after chosen').then((l) => l.resign());
    expect(await backend.residue(name)).toEqual([]);
  });

  s.test('election.handover() rejects with HandoverFailedError as soon as the chosen one leaves before it could lead, while the leader still holds', [], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const [a, b, c, operator] = [await s.open(name), await s.open(name), await s.open(name), await s.open(name)];
    const leader = await within(a.election.campaign({ id: 'leader', priority: 5 }), t.op, 'the first leader');
    const leaving = new AbortController();
    const chosen = quiet(b.election.campaign({ id: 'chosen', priority: 1, signal: leaving.signal }));
    const other = quiet(c.election.campaign({ id: 'other', priority: 3 }));
    await queued(a.election, (q) => q.length === 3, t.op, 'chosen and other to be queued');
    const asked = quiet(operator.election.handover({ to: 'chosen' }));
    await within(
      abortedAt(leader.signal),
      t.op,
      "the leader's signal to abort when a handover is asked for",
    );
    leaving.abort();
    await expect(within(chosen, t.op, "chosen's campaign to end")).rejects.toMatchObject({ name: 'AbortError' });
    // The leader yielded but has not released (its work may run on for a
    // while): the handover can no longer happen, and the caller hears it now,
    // not once someone else comes to lead.
    await expect(within(asked, t.op, 'handover() to settle once chosen left')).rejects.toMatchObject({
      code: ErrorCode.HandoverFailed,
      message: expect.stringContaining('"leader" still leads'),
    });
    await within(leader.resign(), t.op, 'the leader to resign');
    const next = await within(other, t.op, 'other to lead, chosen being gone');
    await within(next.resign(), t.op, 'other to resign');
    expect(await backend.residue(name)).toEqual([]);
  });

  s.test('election.handover() goes by id, as the leader does: while another candidate of that id waits, one leaving does not fail it', [], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const [a, b, c, d, operator] = [await s.open(name), await s.open(name), await s.open(name), await s.open(name), await s.open(name)];
    const leader = await within(a.election.campaign({ id: 'leader', priority: 5 }), t.op, 'the first leader');
    const leaving = new AbortController();
    // Two candidates of one id (a restarted process that re-entered before its old entry went, say).
    const first = quiet(b.election.campaign({ id: 'chosen', priority: 2, signal: leaving.signal }));
    await queued(a.election, (q) => q.length === 2, t.op, 'the first chosen to be queued');
    const second = stamp(c.election.campaign({ id: 'chosen', priority: 1 }));
    const other = quiet(d.election.campaign({ id: 'other', priority: 3 }));
    await queued(a.election, (q) => q.length === 4, t.op, 'the second chosen and other to be queued');
    const asked = stamp(operator.election.handover({ to: 'chosen' }));
    await within(abortedAt(leader.signal), t.op, "the leader's signal to abort when a handover is asked for");
    leaving.abort();
    await expect(within(first, t.op, "the first chosen's campaign to end")).rejects.toMatchObject({ name: 'AbortError' });
    await queued(a.election, (q) => q.filter((entry) => entry.id === 'chosen').length === 1, t.op, 'the first chosen to leave the queue');
    // The leader hands over by id when it releases: to the chosen one still waiting.
    await within(leader.resign(), t.op, 'the leader to resign');
    const next = await within(second, t.op, 'the second chosen to lead');
    expect((await within(asked, t.op, 'handover() to resolve')).value).toMatchObject({ ...info(next.value), via: 'handover' });
    await within(next.value.resign(), t.op, 'chosen to resign');
    await within(other, t.op, 'other to lead last').then((l) => l.resign());
    expect(await backend.residue(name)).toEqual([]);
  });

  s.test('a plain and a priority campaign never share an election: the later one is refused (MixedLayoutError) and leaves nothing', [], async () => {
    const { backend, t } = s;
    const plainName = backend.uniqueName();
    const a = await s.open(plainName);
    const plain = await within(a.election.campaign({ id: 'plain' }), t.op, 'the plain leader');
    await expect(within(a.election.campaign({ id: 'ranked', priority: 3 }), t.op, 'the priority campaign to be refused')).rejects.toMatchObject({
      code: ErrorCode.MixedLayout,
    });
    expect((await a.election.candidates()).map((c) => c.id)).toEqual(['plain']);
    await expect(a.election.handover({ to: 'plain' })).rejects.toMatchObject({ code: ErrorCode.InvalidOption });
    await within(plain.resign(), t.op, 'plain to resign');
    expect(await backend.residue(plainName)).toEqual([]);

    const rankedName = backend.uniqueName();
    const b = await s.open(rankedName);
    const ranked = await within(b.election.campaign({ id: 'ranked', priority: 3 }), t.op, 'the priority leader');
    await expect(within(b.election.campaign({ id: 'plain' }), t.op, 'the plain campaign to be refused')).rejects.toMatchObject({
      code: ErrorCode.MixedLayout,
    });
    expect((await b.election.candidates()).map((c) => c.id)).toEqual(['ranked']);
    expect(ranked.isLeader).toBe(true);
    await within(ranked.resign(), t.op, 'ranked to resign');
    expect(await backend.residue(rankedName)).toEqual([]);
  });

  s.test('in a plain election handover() goes to the next in the queue, and a handover to anyone else is refused', [], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const a = await s.open(name);
    const first = await within(a.election.campaign({ id: 'first' }), t.op, 'the first leader');
    const b = await s.open(name);
    const second = quiet(b.election.campaign({ id: 'second' }));
    await queued(a.election, (q) => q.length === 2, t.op, 'second to be queued');
    const third = quiet(b.election.campaign({ id: 'third' }));
    await queued(a.election, (q) => q.length === 3, t.op, 'third to be queued');
    await expect(first.handover({ to: 'third' })).rejects.toMatchObject({ code: ErrorCode.InvalidOption, option: 'to' });
    expect(first.isLeader).toBe(true);
    await within(first.handover({ to: 'second' }), t.op, 'the handover to the next');
    expect(lossReason(first.signal.reason)).toBe('handover');
    const next = await within(second, t.op, 'second to lead');
    await within(next.handover(), t.op, 'a handover to whoever is next');
    await within(third, t.op, 'third to lead').then((l) => l.resign());
    expect(await backend.residue(name)).toEqual([]);
  });
}

/**
 * Campaigns `[id, priority]` in election `name` one after the other, each on
 * a handle of its own logging to `wakes`, each once the one before is queued
 * (as `leading` reads the election); the campaigns by id.
 */
async function joinInTurn(s: Suite, name: string, leading: Election, wakes: WakeCounter, joining: ReadonlyArray<readonly [string, number]>): Promise<Map<string, Promise<Leadership>>> {
  const campaigns = new Map<string, Promise<Leadership>>();
  for (const [id, priority] of joining) {
    const handle = await s.open(name, wakes.logger(id));
    campaigns.set(id, quiet(handle.election.campaign({ id, priority })));
    await queued(leading, (q) => q.length === campaigns.size + 1, s.t.op, `${id} to be queued`);
  }
  return campaigns;
}
