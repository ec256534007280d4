/**
 * Conformance: session / lease loss, injected for real through the handle's
 * fault hooks. The safety model's promises under test: a cut-off leader stops
 * at its own deadline before anyone else can lead; a short blip costs
 * nothing; an expired session's leader learns it and is replaced; a waiting
 * candidate's stale entry never leads.
 */
import { expect } from '@jest/globals';
import { setTimeout as delay } from 'node:timers/promises';
import { abortedAt, info, lossReason, now, queued, quiet, repeats, stamp, within } from './kit.js';
import type { Suite } from './suite.js';

export function faults(s: Suite): void {
  s.test('cut: the leader gives up at its loss deadline (reason "deadline"), within sessionTimeoutMs and before another candidate leads', ['cut'], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const [a, b, o] = [await s.open(name), await s.open(name), await s.open(name)];
    const la = await within(a.election.campaign({ id: 'a' }), t.op, 'a to lead');
    const elected = stamp(b.election.campaign({ id: 'b' }));
    await queued(o.election, (q) => q.length === 2, t.op, "b's entry to be queued");
    const seen = s.record(o.election.observe({ signal: s.signal }));
    expect(await seen.value(t.op, 'the observer to report a')).toMatchObject(info(la));
    const observedOther = stamp(seen.find((v) => v?.key !== la.key, t.failover + t.session, 'the observer to report a change'));
    const ahead = abortedAt(la.signalAhead(Math.round(t.session / 4)));
    const lost = abortedAt(la.signal);

    const cutAt = now();
    await s.cut(a);
    const loss = await within(lost, t.session + t.slack + t.op, "a's leadership to end at its loss deadline");
    expect(lossReason(loss.value)).toBe('deadline');
    expect(loss.at - cutAt).toBeLessThanOrEqual(t.session + t.slack);
    expect((await within(ahead, t.op, 'signalAhead() to abort')).at).toBeLessThanOrEqual(loss.at);

    const lb = await within(elected, t.failover, 'b to lead after the server expired a');
    const other = await within(observedOther, t.op, 'the observer to report the change');
    expect(loss.at).toBeLessThanOrEqual(Math.min(lb.at, other.at));
    expect(lb.value.token > la.token).toBe(true);
    expect(other.value).toMatchObject(info(lb.value));

    // After healing, the same client campaigns again on a fresh session.
    await s.heal(a);
    const again = quiet(a.election.campaign({ id: 'a' }));
    await within(lb.value.resign(), t.op, 'b to resign');
    const la2 = await within(again, t.failover + t.op, 'a to lead again after the cut healed');
    expect(la2.token > lb.value.token).toBe(true);
  });

  s.test('a cut shorter than the loss deadline does not abort leadership', ['cut'], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const [a, b, o] = [await s.open(name), await s.open(name), await s.open(name)];
    const la = await within(a.election.campaign({ id: 'a' }), t.op, 'a to lead');
    let bLed = false;
    const waiting = quiet(b.election.campaign({ id: 'b' }).then((l) => ((bLed = true), l)));
    await queued(o.election, (q) => q.length === 2, t.op, "b's entry to be queued");
    const stop = new AbortController();
    const seen = s.record(o.election.observe({ signal: stop.signal }));
    expect(await seen.value(t.op, 'the observer to report a')).toMatchObject(info(la));
    const before = la.deadline;

    const cutAt = now();
    await s.cut(a);
    // The fault's duration, not synchronisation: a fifth of the session
    // timeout is well inside any deadline (lastContact + timeout − margin).
    await delay(Math.round(t.session / 5));
    await s.heal(a);
    // Observe for as long as the cut could have cost leadership.
    const windowMs = Math.max(0, Math.round(cutAt + t.session + t.slack - now()));
    const lost = await Promise.race([abortedAt(la.signal), delay(windowMs).then(() => undefined)]);
    if (lost) throw new Error(`a lost leadership after a short cut: ${String(lost.value)}`);

    expect(la.isLeader).toBe(true);
    expect(bLed).toBe(false);
    expect(la.deadline).toBeGreaterThan(before);
    expect(await o.election.leader()).toMatchObject(info(la));
    stop.abort();
    await seen.end(t.op, 'the observer to have reported no change');
    await within(la.resign(), t.op, 'a to resign');
    await within(waiting, t.op, 'b to lead after a resigned');
  });

  s.test("expire: the leader's signal aborts with a typed reason and another candidate takes over with a greater token", ['expire'], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const [a, b, o] = [await s.open(name), await s.open(name), await s.open(name)];
    const la = await within(a.election.campaign({ id: 'a' }), t.op, 'a to lead');
    const waiting = quiet(b.election.campaign({ id: 'b' }));
    await queued(o.election, (q) => q.length === 2, t.op, "b's entry to be queued");
    const lost = abortedAt(la.signal);

    await s.expire(a);
    const loss = await within(lost, t.session + t.op, "a's leadership to end after its session expired");
    expect(['session-expired', 'deleted', 'deadline']).toContain(lossReason(loss.value));
    const lb = await within(waiting, t.failover, 'b to take over');
    expect(lb.token > la.token).toBe(true);
    expect(await b.election.leader()).toMatchObject(info(lb));

    const again = quiet(a.election.campaign({ id: 'a' }));
    await within(lb.resign(), t.op, 'b to resign');
    const la2 = await within(again, t.failover + t.op, 'a to lead again on a new session');
    expect(la2.token > lb.token).toBe(true);
  });

  s.test('a waiting candidate whose session expired never leads on its stale entry; its campaign re-enters with a fresh one', ['expire'], async () => {
    const { backend, t } = s;
    const name = backend.uniqueName();
    const [a, b, o] = [await s.open(name), await s.open(name), await s.open(name)];
    const la = await within(a.election.campaign({ id: 'a' }), t.op, 'a to lead');
    const waiting = quiet(b.election.campaign({ id: 'b' }));
    const queue = await queued(o.election, (q) => q.length === 2, t.op, "b's entry to be queued");
    const stale = queue[1]!;
    expect(stale.id).toBe('b');
    const seen = s.record(o.election.observe({ signal: s.signal }));
    expect(await seen.value(t.op, 'the observer to report a')).toMatchObject(info(la));

    // Cut too when possible: then b cannot hear of the expiry until it heals.
    const cut = s.faults.has('cut');
    if (cut) await s.cut(b);
    await s.expire(b);
    // Only the server that closed b's session is known to have applied it (types.ts).
    await queued(o.election, (q) => !q.some((c) => c.key === stale.key), t.op, "b's stale entry to go with its session");
    await within(la.resign(), t.op, 'a to resign');
    if (cut) {
      expect(await seen.value(t.op, 'the observer to report no leader')).toBeUndefined();
      await s.heal(b);
    }

    const lb = await within(waiting, t.failover + t.op, 'b to lead on a fresh entry');
    expect(lb.key).not.toBe(stale.key);
    expect(lb.token > stale.token && lb.token > la.token).toBe(true);
    expect((await b.election.candidates())[0]).toMatchObject(info(lb));
    await seen.find((v) => v?.key === lb.key, t.op, 'the observer to report b on its fresh entry');
    expect(seen.seen.filter((v) => v?.key === stale.key)).toEqual([]);
    expect(repeats(seen.seen)).toEqual([]);
  });
}
