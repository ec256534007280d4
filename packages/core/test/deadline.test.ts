import { describe, expect, it } from '@jest/globals';
import { isElectError } from '@elect/core';
import { LossDeadline, defaultSafetyMarginMs, safetyMarginFor } from '@elect/core/backend';
import { ManualClock } from '@elect/core/testing';

function setup(timeoutMs = 1000, safetyMarginMs = 100) {
  const clock = new ManualClock(10_000);
  let expired = 0;
  const deadline = new LossDeadline({ timeoutMs, safetyMarginMs, clock, onExpire: () => expired++ });
  return { clock, deadline, expired: () => expired };
}

describe('LossDeadline', () => {
  it('expires exactly at lastContact + timeout − margin, once', () => {
    const { clock, deadline, expired } = setup();
    expect(deadline.deadline).toBe(10_900);
    clock.advance(899);
    expect(expired()).toBe(0);
    expect(deadline.remaining()).toBe(1);
    clock.advance(1);
    expect(expired()).toBe(1);
    expect(deadline.expired).toBe(true);
    clock.advance(10_000);
    expect(expired()).toBe(1);
  });

  it('follows a shorter timeout down at once (a re-negotiated session), never up', () => {
    const { clock, deadline, expired } = setup(1000, 100);
    clock.advance(300);
    deadline.shorten(500, 50); // the server now holds 500 ms, counted from the same last contact
    expect(deadline.timeoutMs).toBe(500);
    expect(deadline.deadline).toBe(10_450);
    deadline.shorten(800, 80); // longer: ignored
    expect(deadline.deadline).toBe(10_450);
    clock.advance(149);
    expect(expired()).toBe(0);
    clock.advance(1);
    expect(expired()).toBe(1);
  });

  it('starts from the given lastContact (the moment the session request was sent)', () => {
    const clock = new ManualClock(10_000);
    const deadline = new LossDeadline({ timeoutMs: 1000, safetyMarginMs: 100, clock, lastContact: 9_500, onExpire: () => {} });
    expect(deadline.deadline).toBe(10_400);
  });

  it('fresh contact pushes the deadline out; older contact is ignored', () => {
    const { clock, deadline, expired } = setup();
    clock.advance(500);
    deadline.contact(); // sent now (10 500)
    expect(deadline.deadline).toBe(11_400);
    deadline.contact(10_200); // an older request answered late
    expect(deadline.lastContact).toBe(10_500);
    clock.advance(899);
    expect(expired()).toBe(0);
    clock.advance(1);
    expect(expired()).toBe(1);
  });

  it('a contact sent before the deadline but answered after it does not revive it', () => {
    const { clock, deadline, expired } = setup();
    clock.advance(900);
    expect(expired()).toBe(1);
    deadline.contact(10_800);
    expect(deadline.expired).toBe(true);
    expect(deadline.lastContact).toBe(10_000);
    expect(expired()).toBe(1);
  });

  it('expire() ends it now; stop() ends it without calling onExpire', () => {
    const a = setup();
    a.deadline.expire();
    a.deadline.expire();
    expect(a.expired()).toBe(1);
    const b = setup();
    b.deadline.stop();
    b.clock.advance(5000);
    expect(b.expired()).toBe(0);
    expect(b.clock.pending).toBe(0);
  });

  it('re-arms instead of expiring when its timer fires early', () => {
    const clock = new ManualClock(0);
    let early: (() => void) | undefined;
    const eager = {
      now: () => clock.now(),
      schedule: (fn: () => void, ms: number) => {
        early ??= fn;
        return clock.schedule(fn, ms);
      },
    };
    let expired = 0;
    new LossDeadline({ timeoutMs: 1000, safetyMarginMs: 100, clock: eager, onExpire: () => expired++ });
    early?.(); // fires at 0, 900 ms too soon
    expect(expired).toBe(0);
    clock.advance(900);
    expect(expired).toBe(1);
  });

  describe('signalAhead', () => {
    it('aborts leadMs before the deadline, re-planned on contact, with a typed reason', () => {
      const { clock, deadline } = setup();
      const ahead = deadline.signalAhead(300); // due at 10 600
      clock.advance(400);
      deadline.contact(); // deadline 11 300 → ahead due at 11 000
      clock.advance(300); // 10 700
      expect(ahead.aborted).toBe(false);
      clock.advance(299);
      expect(ahead.aborted).toBe(false);
      clock.advance(1);
      expect(ahead.aborted).toBe(true);
      expect(isElectError(ahead.reason)).toBe(true);
      expect(ahead.reason).toMatchObject({ name: 'LeadershipLostError', reason: 'deadline' });
      deadline.contact(); // no un-abort
      expect(ahead.aborted).toBe(true);
    });

    it('aborts when the deadline expires, and at once when already expired', () => {
      const { clock, deadline } = setup();
      const ahead = deadline.signalAhead(0);
      deadline.expire();
      expect(ahead.aborted).toBe(true);
      expect(deadline.signalAhead(50).aborted).toBe(true);
      clock.advance(1);
    });

    it('a lead longer than what is left is aborted as it is handed out, and holds no timer', () => {
      const { clock, deadline } = setup();
      const idle = clock.pending;
      const ahead = deadline.signalAhead(5000);
      expect(ahead.aborted).toBe(true);
      expect(ahead.reason).toMatchObject({ name: 'LeadershipLostError', reason: 'deadline' });
      expect(clock.pending).toBe(idle);
      expect(deadline.signalAhead(900).aborted).toBe(true); // exactly what is left: 1000 − 100 ms margin
      expect(deadline.signalAhead(899).aborted).toBe(false);
    });

    it('drops its timer when `until` aborts, and then never aborts', () => {
      const { clock, deadline } = setup();
      const idle = clock.pending;
      const until = new AbortController();
      const ahead = deadline.signalAhead(300, until.signal);
      expect(clock.pending).toBe(idle + 1);
      until.abort();
      expect(clock.pending).toBe(idle);
      const late = deadline.signalAhead(300, until.signal);
      expect(clock.pending).toBe(idle);
      deadline.expire();
      expect([ahead.aborted, late.aborted]).toEqual([false, false]);
    });

    it('rejects a bad lead', () => {
      const { deadline } = setup();
      expect(() => deadline.signalAhead(-1)).toThrow(expect.objectContaining({ option: 'leadMs' }));
      expect(() => deadline.signalAhead(Number.NaN)).toThrow(expect.objectContaining({ code: 'ELECT_INVALID_OPTION' }));
    });
  });

  it('validates timeout and margin', () => {
    const make = (timeoutMs: number, safetyMarginMs: number) => () => new LossDeadline({ timeoutMs, safetyMarginMs, onExpire: () => {} });
    expect(make(0, 0)).toThrow(expect.objectContaining({ option: 'timeoutMs' }));
    expect(make(Number.POSITIVE_INFINITY, 0)).toThrow(expect.objectContaining({ option: 'timeoutMs' }));
    expect(make(1000, 1000)).toThrow(expect.objectContaining({ option: 'safetyMarginMs' }));
    expect(make(1000, -1)).toThrow(expect.objectContaining({ option: 'safetyMarginMs' }));
  });

  it('defaultSafetyMarginMs: a tenth, at least 100 ms, at most a third', () => {
    expect(defaultSafetyMarginMs(10_000)).toBe(1000);
    expect(defaultSafetyMarginMs(600)).toBe(100);
    expect(defaultSafetyMarginMs(150)).toBe(50);
  });
});

describe('safetyMarginFor: one rule for the margin, given the asked margin and the granted timeout', () => {
  const warnings: object[] = [];
  const logger = { debug: () => {}, info: () => {}, warn: (fields: object) => void warnings.push(fields), error: () => {} };

  it('the asked margin when it is shorter than the granted timeout; the default when none was asked', () => {
    expect(safetyMarginFor(10_000, 500, logger)).toBe(500);
    expect(safetyMarginFor(10_000, undefined, logger)).toBe(defaultSafetyMarginMs(10_000));
    expect(warnings).toEqual([]);
  });

  it('a margin no shorter than the granted timeout would leave no time: the default for the granted one, and a warning', () => {
    expect(safetyMarginFor(2_000, 3_000, logger)).toBe(defaultSafetyMarginMs(2_000));
    expect(safetyMarginFor(2_000, 2_000, logger)).toBe(defaultSafetyMarginMs(2_000));
    expect(warnings).toEqual([
      { event: 'safety-margin', asked: 3_000, timeoutMs: 2_000, using: 200 },
      { event: 'safety-margin', asked: 2_000, timeoutMs: 2_000, using: 200 },
    ]);
  });
});
