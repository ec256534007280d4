/**
 * Conformance: what readers see — observe() (every change once, in order,
 * including "no leader" and new values; ends only when asked; never silently
 * on failure), leader() and candidates() agreeing with it, proclaim(), and
 * the elected/lost state events.
 */
import { expect } from '@jest/globals';
import type { ElectionEvent, LeaderInfo, Leadership } from '../contract.js';
import { isElectError } from '../errors.js';
import { info, lossReason, queued, quiet, repeats, within, type Recorder } from './kit.js';
import type { Suite } from './suite.js';
import type { ConformanceHandle } from './types.js';

export function observe(s: Suite): void {
  s.test('observe() yields the leader, then every change once and in order (new leader, new value, no leader); leader() and candidates() agree; proclaim() shows', [], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const [o, a, b] = [await s.open(name), await s.open(name), await s.open(name)];
    const stop = new AbortController();
    const seen = s.record(o.election.observe({ signal: stop.signal }));
    const agree = async (expected: Leadership | undefined, what: string): Promise<void> => {
      const value = await seen.value(t.op, what);
      await expectLeader(o, value, expected);
    };

    await agree(undefined, 'the first observation (no leader)');
    const la = await within(a.election.campaign({ id: 'a' }), t.op, 'a to lead');
    await agree(la, 'a as leader');
    await within(la.proclaim('a, second value'), t.op, 'proclaim()');
    expect(la.value).toBe('a, second value');
    await agree(la, "a's new value");

    const waiting = quiet(b.election.campaign({ id: 'b', value: 'b, first value' }));
    await queued(o.election, (q) => q.length === 2, t.op, "b's entry to be queued");
    await within(la.resign(), t.op, 'a to resign');
    const lb = await within(waiting, t.op, 'b to lead after a resigned');
    expect(lb.value).toBe('b, first value');
    expect(lb.token > la.token).toBe(true);
    await agree(lb, 'b as leader');
    await within(lb.resign(), t.op, 'b to resign');
    await agree(undefined, 'no leader after b resigned');

    stop.abort();
    await seen.end(t.op, 'observe() to end after its signal aborted, with nothing else delivered');
    expect(repeats(seen.seen)).toEqual([]);
  });

  s.test('observe() and events() end when their signal aborts (at once if it has), and when the election closes', [], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const o = await s.open(name);
    const stop = new AbortController();
    const aborted = s.record(o.election.observe({ signal: stop.signal }));
    expect(await aborted.value(t.op, 'the first observation')).toBeUndefined();
    stop.abort();
    await aborted.end(t.op, 'observe() to end after its signal aborted');
    // A signal that has aborted already: they end at once, with nothing delivered.
    await s.record(o.election.observe({ signal: stop.signal })).end(t.op, 'observe() with an aborted signal to end at once');
    await s.record(o.election.events({ signal: stop.signal })).end(t.op, 'events() with an aborted signal to end at once');

    const closing = s.record(o.election.observe());
    expect(await closing.value(t.op, 'the first observation')).toBeUndefined();
    const events = s.record(o.election.events());
    await within(o.election.close(), t.op, 'close()');
    await closing.end(t.op, 'observe() to end when the election closed');
    await events.end(t.op, 'events() to end when the election closed');
  });

  s.test('events() reports elected and lost once each, with the token and the reason', [], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const a = await s.open(name);
    const stop = new AbortController();
    const events = s.record(a.election.events({ signal: stop.signal }));
    const own = (e: ElectionEvent): boolean => e.type === 'elected' || e.type === 'lost';

    const leadership = await within(a.election.campaign({ id: 'a' }), t.op, 'a to lead');
    expect(await events.find(own, t.op, 'an elected event')).toMatchObject({ type: 'elected', id: 'a', token: leadership.token });
    await within(leadership.resign(), t.op, 'a to resign');
    const lost = await events.find(own, t.op, 'a lost event');
    expect(lost).toMatchObject({ type: 'lost', id: 'a', token: leadership.token, reason: 'resigned' });
    expect(lossReason((lost as { error: unknown }).error)).toBe('resigned');
    stop.abort();
    await drainWithout(events, own, t.op);
  });

  s.test("observe() never ends silently: after the observer's session expires it goes on (or throws an ElectError)", ['expire'], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const [o, a] = [await s.open(name), await s.open(name)];
    const seen = s.record(o.election.observe({ signal: s.signal }));
    expect(await seen.value(t.op, 'the first observation')).toBeUndefined();
    await s.expire(o);
    const leadership = await within(a.election.campaign({ id: 'a' }), t.op, 'a to lead');
    for (;;) {
      const item = await seen.next(t.failover, 'the observer to report a, or to fail');
      if (item.kind === 'end') throw new Error("observe() ended silently after its session expired: it must go on or throw an ElectError");
      if (item.kind === 'error') {
        expect(isElectError(item.error)).toBe(true);
        break;
      }
      if (item.value?.key === leadership.key) {
        await expectLeader(o, item.value, leadership);
        break;
      }
    }
    expect(repeats(seen.seen)).toEqual([]);
  });
}

/** `value` (an observation) describes `expected`, and leader() and candidates() say the same. */
async function expectLeader(o: ConformanceHandle, value: LeaderInfo | undefined, expected: Leadership | undefined): Promise<void> {
  const [leader, queue] = [await o.election.leader(), await o.election.candidates()];
  if (expected === undefined) {
    expect(value).toBeUndefined();
    expect(leader).toBeUndefined();
    expect(queue).toEqual([]);
    return;
  }
  expect(value).toMatchObject(info(expected));
  expect(leader).toMatchObject(info(expected));
  expect(queue[0]).toMatchObject(info(expected));
}

/** Reads to the end; no further `own` event may appear (each is delivered once). */
async function drainWithout(events: Recorder<ElectionEvent>, own: (e: ElectionEvent) => boolean, ms: number): Promise<void> {
  for (;;) {
    const item = await events.next(ms, 'events() to end after its signal aborted');
    if (item.kind === 'end') return;
    if (item.kind === 'error') throw item.error;
    if (own(item.value)) throw new Error(`an extra ${item.value.type} event was delivered`);
  }
}
