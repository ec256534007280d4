import { describe, expect, it } from '@jest/globals';
import { ClosedError, ConnectionError, InvalidOptionError, TimeoutError } from '@elect/core';
import { Liveness, SessionSlot, candidateStateMachine, followSession, type SessionStatus } from '@elect/core/backend';
import { ManualClock } from '@elect/core/testing';
import { RecordingLogger } from '@elect/test';

/** Lets every settled promise run its reactions. */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function liveness(clock: ManualClock, logger = new RecordingLogger(), safetyMarginMs?: number): Liveness {
  return new Liveness({ timeoutMs: 1000, safetyMarginMs, openedAt: clock.now(), clock, logger, label: { session: 's1' } });
}

describe('Liveness: one session as we judge it on our clock', () => {
  it('ends at lastContact + timeout − margin, moved by contact (the send time), and never revives', async () => {
    const clock = new ManualClock();
    const session = liveness(clock, undefined, 100);
    const seen: SessionStatus[] = [];
    session.onStatus((status) => seen.push(status));
    clock.advance(500);
    session.contact(400); // a request sent at 400, answered now
    expect(session.deadline.deadline).toBe(1300);
    session.suspend('no answer');
    expect(session.status).toEqual({ kind: 'suspended', deadline: 1300 });
    clock.advance(799);
    expect(session.isEnded).toBe(false);
    clock.advance(1);
    expect(session.status).toEqual({ kind: 'ended', reason: 'deadline' });
    expect(session.signal.aborted).toBe(true);
    expect(await session.ended).toBe('deadline');
    session.contact(clock.now());
    session.resume();
    expect(session.status.kind).toBe('ended');
    expect(seen.map((s) => s.kind)).toEqual(['suspended', 'ended']);
  });

  it('resumes only while suspended and before the deadline; each change is reported once', () => {
    const clock = new ManualClock();
    const session = liveness(clock);
    const seen: string[] = [];
    session.onStatus((status) => seen.push(status.kind));
    session.resume(); // already live: nothing
    session.suspend('a');
    session.suspend('b');
    session.resume();
    session.end('session-expired');
    session.end('closed');
    expect(seen).toEqual(['suspended', 'live', 'ended']);
    expect(session.status).toEqual({ kind: 'ended', reason: 'session-expired' });
  });

  it('follows a shorter granted timeout down at once, never up, with the margin for it', () => {
    const clock = new ManualClock();
    const logger = new RecordingLogger();
    const session = liveness(clock, logger, 400);
    expect(session.deadline.deadline).toBe(600);
    session.follow(2000);
    expect(session.deadline.deadline).toBe(600);
    session.follow(300); // the margin asked (400) no longer fits: the default for 300 ms
    expect(session.deadline.timeoutMs).toBe(300);
    expect(session.deadline.deadline).toBe(300 - 100);
    expect(logger.count('safety-margin')).toBe(1);
    expect(logger.count('session-timeout-shortened')).toBe(1);
  });

  it('a closed session stops its deadline without expiring it', () => {
    const clock = new ManualClock();
    const session = liveness(clock);
    session.end('closed');
    expect(clock.pending).toBe(0);
    expect(session.deadline.expired).toBe(true);
    expect(session.status).toEqual({ kind: 'ended', reason: 'closed' });
  });

  it('late listeners hear after the others; a throwing listener or telemetry keeps nobody from hearing the end', async () => {
    const clock = new ManualClock();
    const logger = new RecordingLogger();
    const telemetry = {
      sessionStatus: () => {
        throw new Error('telemetry bug');
      },
      roundTrip: () => {
        throw new Error('telemetry bug');
      },
    };
    const session = new Liveness({ timeoutMs: 1000, safetyMarginMs: 100, openedAt: 0, clock, logger, label: {}, telemetry });
    const heard: string[] = [];
    session.onStatus(() => heard.push('late'), { late: true });
    session.onStatus(() => {
      throw new Error('listener bug');
    });
    session.onStatus((status) => heard.push(status.kind));
    clock.advance(300);
    session.contact(300);
    session.answered(250); // telemetry throws: logged, and the contact above still counts
    expect(session.deadline.deadline).toBe(1200);
    clock.advanceTo(1200);
    expect(heard).toEqual(['ended', 'late']);
    expect(session.signal.aborted).toBe(true);
    expect(await session.ended).toBe('deadline');
    expect(logger.count('listener-failed')).toBe(1);
    expect(logger.count('telemetry-failed')).toBe(3); // opened, round trip, ended
  });

  it('followSession moves a leader between leader and suspended, and ends it with the session', () => {
    const clock = new ManualClock();
    const session = liveness(clock);
    const machine = candidateStateMachine();
    machine.transition({ kind: 'campaigning' });
    machine.transition({ kind: 'leader', token: 7n });
    const lost: string[] = [];
    session.suspend('x');
    const off = followSession(session, machine, (reason) => lost.push(reason));
    expect(machine.state).toEqual({ kind: 'suspended', token: 7n, deadline: session.deadline.deadline });
    session.resume();
    expect(machine.state).toEqual({ kind: 'leader', token: 7n });
    session.end('session-expired');
    expect(lost).toEqual(['session-expired']);
    off();
  });

  it('followSession ends the leadership at once on an already ended session', () => {
    const clock = new ManualClock();
    const session = liveness(clock);
    session.end('session-expired');
    const lost: string[] = [];
    followSession(session, candidateStateMachine(), (reason) => lost.push(reason));
    expect(lost).toEqual(['session-expired']);
  });
});

interface Fake {
  readonly liveness: Liveness;
  readonly n: number;
}

function slotOf(clock: ManualClock, open: () => Promise<Fake>, extra: { isRefusal?: (e: unknown) => boolean } = {}) {
  const retired: Array<[number, string]> = [];
  const discarded: number[] = [];
  const slot = new SessionSlot<Fake>({
    open,
    retire: (session, reason) => void retired.push([session.n, reason]),
    discard: async (session) => void discarded.push(session.n),
    backoff: { initialMs: 100, maxMs: 400 },
    what: 'test session',
    closed: () => new ClosedError('closed'),
    clock,
    logger: new RecordingLogger(),
    ...extra,
  });
  return { slot, retired, discarded };
}

describe('SessionSlot: one session at a time, replaced when lost', () => {
  it('opens on the first get, answers the live session, retires and replaces a lost one', async () => {
    const clock = new ManualClock();
    let opened = 0;
    const { slot, retired } = slotOf(clock, async () => ({ liveness: liveness(clock), n: ++opened }));
    expect(slot.current).toBeUndefined();
    const first = await slot.get();
    expect(first.n).toBe(1);
    expect(await slot.get()).toBe(first);
    first.liveness.end('session-expired');
    expect(retired).toEqual([[1, 'session-expired']]);
    const second = await slot.get();
    expect(second.n).toBe(2);
    expect(opened).toBe(2);
  });

  it('a session that ended before it was installed is retired and replaced at once (one that expired while a connection was still setting up)', async () => {
    const clock = new ManualClock();
    let opened = 1;
    const { slot, retired } = slotOf(clock, async () => ({ liveness: liveness(clock), n: ++opened }));
    const early: Fake = { liveness: liveness(clock), n: 1 };
    early.liveness.end('session-expired');
    slot.install(early);
    expect(retired).toEqual([[1, 'session-expired']]);
    expect(slot.current).toBeUndefined();
    const next = await slot.get();
    expect(next.n).toBe(2);
  });

  it('retries a failed open with backoff on the injected clock', async () => {
    const clock = new ManualClock();
    let attempts = 0;
    const { slot } = slotOf(clock, async () => {
      attempts += 1;
      if (attempts < 3) throw new ConnectionError('down');
      return { liveness: liveness(clock), n: attempts };
    });
    const got = slot.get();
    await flush();
    expect(attempts).toBe(1);
    clock.advance(99);
    await flush();
    expect(attempts).toBe(1);
    clock.advance(1);
    await flush();
    expect(attempts).toBe(2);
    clock.advance(200);
    await flush();
    expect((await got).n).toBe(3);
  });

  it('a refusal rejects every waiter with it, and every get for a pause after it (doubling while refusals follow each other); a session that opens resets it', async () => {
    const clock = new ManualClock();
    const refusal = new InvalidOptionError('auth', 'permission denied');
    let attempts = 0;
    let refuse = 2;
    const { slot } = slotOf(
      clock,
      async () => {
        attempts += 1;
        if (attempts <= refuse) throw refusal;
        return { liveness: liveness(clock), n: attempts };
      },
      { isRefusal: (e) => e === refusal },
    );
    const a = slot.get();
    const b = slot.get();
    await expect(a).rejects.toBe(refusal);
    await expect(b).rejects.toBe(refusal);
    // Asked again at once, and through the pause (the backoff's first, 100 ms): no new attempt.
    await expect(slot.get()).rejects.toBe(refusal);
    clock.advance(99);
    await expect(slot.get()).rejects.toBe(refusal);
    expect(attempts).toBe(1);
    clock.advance(1);
    await expect(slot.get()).rejects.toBe(refusal); // the second attempt, refused: the pause doubles
    expect(attempts).toBe(2);
    clock.advance(199);
    await expect(slot.get()).rejects.toBe(refusal);
    expect(attempts).toBe(2);
    clock.advance(1);
    const third = await slot.get();
    expect({ n: third.n, attempts }).toEqual({ n: 3, attempts: 3 });
    // Opened: the pause starts again from the first.
    refuse = 4;
    third.liveness.end('session-expired');
    await flush();
    expect(attempts).toBe(4);
    await expect(slot.get()).rejects.toBe(refusal);
    clock.advance(100);
    expect((await slot.get()).n).toBe(5);
  });

  it('a waiter ends on its signal, on its timeout (injected clock), and on close', async () => {
    const clock = new ManualClock();
    const { slot, discarded } = slotOf(clock, () => new Promise<Fake>(() => {}));
    const stop = new AbortController();
    const bySignal = slot.get(stop.signal);
    const byTimeout = slot.get(undefined, 250);
    const byClose = slot.get();
    stop.abort();
    await expect(bySignal).rejects.toBeDefined();
    clock.advance(250);
    await expect(byTimeout).rejects.toBeInstanceOf(TimeoutError);
    slot.close();
    await expect(byClose).rejects.toBeInstanceOf(ClosedError);
    await expect(slot.get()).rejects.toBeInstanceOf(ClosedError);
    expect(discarded).toEqual([]);
  });

  it('a get with an aborted signal rejects without opening anything', async () => {
    const clock = new ManualClock();
    let opened = 0;
    const { slot } = slotOf(clock, async () => ({ liveness: liveness(clock), n: ++opened }));
    await expect(slot.get(AbortSignal.abort())).rejects.toBeDefined();
    await flush();
    expect(opened).toBe(0);
  });

  it('a session that opens after close is discarded, and settled() waits for it', async () => {
    const clock = new ManualClock();
    let finish: (fake: Fake) => void = () => {};
    const { slot, discarded } = slotOf(clock, () => new Promise<Fake>((resolve) => (finish = resolve)));
    const waiting = slot.get();
    slot.close();
    await expect(waiting).rejects.toBeInstanceOf(ClosedError);
    finish({ liveness: liveness(clock), n: 1 });
    await slot.settled();
    expect(discarded).toEqual([1]);
  });
});
