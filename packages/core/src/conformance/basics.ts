/**
 * Conformance: one leader's life cycle, fencing tokens, cleanup (resign,
 * abort, close leave nothing behind), and validation before any write.
 */
import { expect } from '@jest/globals';
import { systemClock } from '../clock.js';
import type { CampaignOptions } from '../contract.js';
import { ErrorCode } from '../errors.js';
import { signalHolds } from '../testing/signals.js';
import { collected, info, lossReason, queued, quiet, within } from './kit.js';
import type { Suite } from './suite.js';

export function basics(s: Suite): void {
  s.test('a lone candidate leads; leader() and candidates() report it; resign aborts its signal, is idempotent and leaves nothing', [], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const a = await s.open(name);
    expect(await a.election.leader()).toBeUndefined();
    expect(await a.election.candidates()).toEqual([]);

    const leadership = await within(a.election.campaign({ id: 'alpha' }), t.op, 'a lone campaign to resolve');
    expect(leadership).toMatchObject({ id: 'alpha', value: 'alpha', isLeader: true });
    expect(typeof leadership.token).toBe('bigint');
    expect(leadership.signal.aborted).toBe(false);
    // The granted timeout is what the deadline counts with: never further ahead than that.
    expect(leadership.timeoutMs).toBeGreaterThan(0);
    expect(leadership.deadline - systemClock.now()).toBeLessThanOrEqual(leadership.timeoutMs);
    expect(await a.election.leader()).toMatchObject(info(leadership));
    const queue = await a.election.candidates();
    expect(queue).toHaveLength(1);
    expect(queue[0]).toMatchObject(info(leadership));

    await within(Promise.all([leadership.resign(), leadership.resign()]), t.op, 'two concurrent resign() calls');
    expect(leadership.isLeader).toBe(false);
    expect(lossReason(leadership.signal.reason)).toBe('resigned');
    await within(leadership.resign(), t.op, 'a third resign()');
    await within(leadership[Symbol.asyncDispose](), t.op, 'disposing of a resigned leadership');
    expect(await a.election.leader()).toBeUndefined();
    expect(await backend.residue(name)).toEqual([]);
    await expect(leadership.proclaim('too late')).rejects.toMatchObject({ code: ErrorCode.NotLeader });
  });

  s.test('a nested name is another election: a candidate of team/billing is none of team, and each elects its own leader', [], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const nested = `${name}/billing`;
    const inner = await s.open(nested);
    const lb = await within(inner.election.campaign({ id: 'billing' }), t.op, 'the nested election to elect');
    const outer = await s.open(name);
    expect(await outer.election.leader()).toBeUndefined();
    expect(await outer.election.candidates()).toEqual([]);
    const lt = await within(outer.election.campaign({ id: 'team' }), t.op, 'the outer election to elect beside the nested one');
    expect(await outer.election.leader()).toMatchObject(info(lt));
    expect(await inner.election.leader()).toMatchObject(info(lb));
    expect(lb.isLeader && lt.isLeader).toBe(true);
    await within(Promise.all([lt.resign(), lb.resign()]), t.op, 'both to resign');
    expect(await backend.residue(nested)).toEqual([]);
    // What holds the nested election's entries (a parent znode) is not a candidate.
    expect((await backend.residue(name)).filter((entry) => !entry.startsWith('billing'))).toEqual([]);
  });

  s.test('fencing tokens strictly increase across successive leaders', [], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const [a, b] = [await s.open(name), await s.open(name)];
    const tokens: bigint[] = [];
    for (const [handle, id] of [[a, 'a'], [b, 'b'], [a, 'a'], [b, 'b']] as const) {
      const leadership = await within(handle.election.campaign({ id }), t.op, `${id} to lead`);
      tokens.push(leadership.token);
      await within(leadership.resign(), t.op, `${id} to resign`);
    }
    for (let i = 1; i < tokens.length; i++) expect((tokens[i] as bigint) > (tokens[i - 1] as bigint)).toBe(true);
    expect(await backend.residue(name)).toEqual([]);
  });

  s.test("campaigns leave nothing on the caller's signal once they end: one long-lived signal given to every campaign does not grow", [], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const [a, b] = [await s.open(name), await s.open(name)];
    // A service's shutdown signal, say, passed to every campaign it makes.
    const { signal } = new AbortController();
    for (let i = 0; i < 10; i++) {
      const first = await within(a.election.campaign({ id: 'a', signal }), t.op, `a to lead (round ${i})`);
      const next = quiet(b.election.campaign({ id: 'b', signal }));
      await queued(a.election, (q) => q.length === 2, t.op, `b to be queued (round ${i})`);
      await within(first.resign(), t.op, 'a to resign');
      await within(next, t.op, `b to lead (round ${i})`).then((l) => l.resign());
      await a.election.leader({ signal }); // and reads (what they show may lag, on a follower)
    }
    expect(signalHolds(signal)).toEqual({ listeners: 0, dependants: 0 });
    expect(await backend.residue(name)).toEqual([]);
  });

  s.test('aborting a waiting campaign rejects with AbortError and removes its entry; an aborted signal writes nothing', [], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const [a, b] = [await s.open(name), await s.open(name)];
    const leadership = await within(a.election.campaign({ id: 'a' }), t.op, 'a to lead');
    const abort = new AbortController();
    const waiting = quiet(b.election.campaign({ id: 'b', signal: abort.signal }));
    await queued(a.election, (q) => q.length === 2, t.op, "b's entry to be queued");

    abort.abort();
    await expect(within(waiting, t.op, "b's aborted campaign to settle")).rejects.toMatchObject({ name: 'AbortError', code: ErrorCode.Aborted });
    // Read on b, which removed its entry (types.ts).
    expect((await b.election.candidates()).map((c) => c.key)).toEqual([leadership.key]);
    expect(await backend.residue(name)).toHaveLength(1);
    expect(leadership.isLeader).toBe(true);

    const already = new AbortController();
    already.abort();
    await expect(b.election.campaign({ id: 'b', signal: already.signal })).rejects.toMatchObject({ code: ErrorCode.Aborted });
    expect(await backend.residue(name)).toHaveLength(1);
    await within(leadership.resign(), t.op, 'a to resign');
    expect(await backend.residue(name)).toEqual([]);
  });

  s.test('close() ends leadership (reason "closed"), rejects waiting campaigns with ClosedError, and leaves nothing', [], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const [a, b] = [await s.open(name), await s.open(name)];
    const leadership = await within(a.election.campaign({ id: 'a' }), t.op, 'a to lead');
    const waiting = quiet(b.election.campaign({ id: 'b' }));
    await queued(a.election, (q) => q.length === 2, t.op, "b's entry to be queued");

    await within(b.election.close(), t.op, "b's election to close");
    await expect(within(waiting, t.op, "b's campaign to settle")).rejects.toMatchObject({ code: ErrorCode.Closed });
    // a has not necessarily seen b's removal yet (types.ts): wait for it.
    const left = await queued(a.election, (q) => q.length === 1, t.op, "b's entry to go");
    expect(left.map((c) => c.key)).toEqual([leadership.key]);

    await within(a.election.close(), t.op, "a's election to close");
    expect(leadership.isLeader).toBe(false);
    expect(lossReason(leadership.signal.reason)).toBe('closed');
    expect(await backend.residue(name)).toEqual([]);
    await within(a.election.close(), t.op, 'a second close()');
  });

  s.test('campaign() after close() rejects with ClosedError and writes nothing', [], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const a = await s.open(name);
    await within(a.election.close(), t.op, 'close()');
    await expect(a.election.campaign({ id: 'late' })).rejects.toMatchObject({ name: 'ClosedError', code: ErrorCode.Closed });
    expect(await backend.residue(name)).toEqual([]);
  });

  s.test('a connection lets go of an election handle dropped after only reading; one with a leader, a campaign or observers on it is kept, and closing the connection ends each of them', [], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const a = await s.open(name);
    const b = await s.open(name);
    // Each handle is made in a function of its own: the test keeps only a
    // WeakRef to it and what runs on it, as a caller that dropped it would.
    const idle = await (async () => {
      const election = a.another(name);
      await election.leader();
      await election.candidates();
      return new WeakRef(election);
    })();
    const leader = await (async () => {
      const election = a.another(name);
      return { leadership: await within(election.campaign({ id: 'leader' }), t.op, 'a lone campaign to resolve'), ref: new WeakRef(election) };
    })();
    const waiter = (() => {
      const election = b.another(name);
      return { campaign: quiet(election.campaign({ id: 'waiting' })), ref: new WeakRef(election) };
    })();
    // One handle with an observer only, one with events() only: what the
    // test keeps of each is the iterator.
    const watcher = (() => {
      const election = a.another(name);
      return { leaders: election.observe()[Symbol.asyncIterator](), ref: new WeakRef(election) };
    })();
    const listener = (() => {
      const election = a.another(name);
      return { events: election.events()[Symbol.asyncIterator](), ref: new WeakRef(election) };
    })();
    const first = await within(watcher.leaders.next(), t.op, 'observe() to yield the leader');
    expect(first.value).toMatchObject(info(leader.leadership));
    const eventsEnd = quiet(listener.events.next());
    await queued(b.election, (queue) => queue.length === 2, t.op, 'the second campaign to queue');

    // The collections that take the idle handle would take any other one the
    // connection let go of too; no more are forced, as each one stalls the
    // process, and a stall past the loss deadline (a short session on a busy
    // host) would end the leadership this test goes on to close.
    expect(await collected(idle)).toBe(true);
    const gone = (ref: WeakRef<object>): boolean => ref.deref() === undefined;
    expect({ leader: gone(leader.ref), waiting: gone(waiter.ref), observed: gone(watcher.ref), listened: gone(listener.ref) }).toEqual({
      leader: false,
      waiting: false,
      observed: false,
      listened: false,
    });
    await within(b.close(), t.op, 'the waiting candidate\'s connection to close');
    await expect(within(waiter.campaign, t.op, 'the waiting campaign to end')).rejects.toMatchObject({ code: ErrorCode.Closed });
    await within(a.close(), t.op, 'the leader\'s connection to close');
    expect(lossReason(leader.leadership.signal.reason)).toBe('closed');
    // Closing the connection closes its elections: their observers end, as they do when the election closes.
    expect(await within(Promise.all([watcher.leaders.next(), eventsEnd]), t.op, 'both observers to end')).toEqual([
      { done: true, value: undefined },
      { done: true, value: undefined },
    ]);
    expect(await backend.residue(name)).toEqual([]);
  });

  s.test('bad campaign options are rejected with InvalidOptionError naming the option, before anything is written', [], async () => {
    const { backend } = s;
    const name = backend.uniqueName();
    const a = await s.open(name);
    const bad: [unknown, string][] = [
      [null, 'options'],
      ['an-id', 'options'],
      [{ id: 'ok', signal: 'soon' }, 'signal'],
      [{ id: 'ok', weight: 1 }, 'weight'],
      [{ id: 'ok', priority: -1 }, 'priority'],
      [{ id: 'ok', priority: 1.5 }, 'priority'],
      [{ id: 'ok', priority: 2 ** 31 }, 'priority'],
      [{ id: 'ok', priority: '3' }, 'priority'],
      [{ id: 'ok', preempt: true }, 'preempt'],
      [{ id: 'ok', priority: 1, preempt: 'yes' }, 'preempt'],
      [{ id: '' }, 'id'],
      [{ id: 'line\nbreak' }, 'id'],
      [{ id: 'nul\0byte' }, 'id'],
      [{ id: 'x'.repeat(257) }, 'id'],
      [{ id: 42 }, 'id'],
      [{}, 'id'],
      [{ id: 'ok', value: 42 }, 'value'],
      [{ id: 'ok', value: 'x'.repeat(65_537) }, 'value'],
    ];
    for (const [options, option] of bad) {
      const attempt = Promise.resolve().then(() => a.election.campaign(options as CampaignOptions));
      await expect(attempt).rejects.toMatchObject({ name: 'InvalidOptionError', code: ErrorCode.InvalidOption, option });
    }
    expect(await backend.residue(name)).toEqual([]);
  });

  s.test('invalid election names are rejected with InvalidOptionError', [], async () => {
    for (const name of s.backend.invalidNames) {
      const attempt = Promise.resolve().then(() => s.open(name));
      await expect(attempt).rejects.toMatchObject({ code: ErrorCode.InvalidOption });
    }
  });
}
