import { describe, expect, it } from '@jest/globals';
import { type LeadershipLostError } from '@elect/core';
import { LeadershipHandle, LossDeadline } from '@elect/core/backend';
import { ManualClock } from '@elect/core/testing';

function setup(overrides: { remove?: () => Promise<void>; proclaim?: (value: string) => Promise<void> } = {}) {
  const clock = new ManualClock(0);
  const lost: LeadershipLostError[] = [];
  const calls = { remove: 0, proclaim: [] as string[] };
  const ref: { handle?: LeadershipHandle } = {};
  const deadline = new LossDeadline({ timeoutMs: 1000, safetyMarginMs: 100, clock, onExpire: () => ref.handle?.lose('deadline') });
  const handle = new LeadershipHandle({
    id: 'me',
    value: 'me',
    token: 7n,
    key: 'e/1',
    deadline,
    backend: {
      remove: overrides.remove ?? (async () => void calls.remove++),
      proclaim: overrides.proclaim ?? (async (value) => void calls.proclaim.push(value)),
    },
    onLost: (error) => lost.push(error),
  });
  ref.handle = handle;
  return { clock, deadline, handle, lost, calls };
}

describe('LeadershipHandle', () => {
  it('exposes the fields and the deadline of its session', () => {
    const { handle, deadline, clock } = setup();
    expect(handle).toMatchObject({ id: 'me', value: 'me', token: 7n, key: 'e/1', isLeader: true });
    expect(handle.deadline).toBe(900);
    expect(handle.timeoutMs).toBe(1000);
    clock.advance(300);
    deadline.contact();
    expect(handle.deadline).toBe(1200);
  });

  it('resign aborts the signal before removing the entry, once; repeated calls share the removal', async () => {
    let abortedWhenRemoving: boolean | undefined;
    const { handle, lost } = setup({
      remove: async () => {
        abortedWhenRemoving = handle.signal.aborted;
      },
    });
    const first = handle.resign();
    const second = handle.resign();
    await Promise.all([first, second, handle[Symbol.asyncDispose]()]);
    expect(abortedWhenRemoving).toBe(true);
    expect(handle.isLeader).toBe(false);
    expect(lost.map((e) => e.reason)).toEqual(['resigned']);
    expect(handle.signal.reason).toMatchObject({ name: 'LeadershipLostError', code: 'ELECT_LEADERSHIP_LOST', reason: 'resigned', retryable: false });
  });

  it('a failed removal can be retried by resigning again', async () => {
    let attempts = 0;
    const { handle } = setup({
      remove: async () => {
        if (++attempts === 1) throw new Error('connection lost');
      },
    });
    await expect(handle.resign()).rejects.toThrow('connection lost');
    await handle.resign();
    expect(attempts).toBe(2);
  });

  it('loses at the loss deadline with reason "deadline"; signalAhead fires first', () => {
    const { handle, clock, lost } = setup();
    const ahead = handle.signalAhead(200);
    clock.advance(700);
    expect(ahead.aborted).toBe(true);
    expect(handle.isLeader).toBe(true);
    clock.advance(200);
    expect(handle.isLeader).toBe(false);
    expect(lost.map((e) => [e.reason, e.retryable])).toEqual([['deadline', true]]);
    expect(handle.lose('deleted')).toBe(false);
    expect(lost).toHaveLength(1);
  });

  it('signalAhead also aborts when leadership ends for another reason', () => {
    const { handle } = setup();
    const ahead = handle.signalAhead(10);
    handle.lose('session-expired', new Error('server said so'));
    expect(ahead.aborted).toBe(true);
    expect(handle.signal.reason).toMatchObject({ reason: 'session-expired', cause: expect.objectContaining({ message: 'server said so' }) });
  });

  it('signalAhead holds one timer per lead however often it is asked, and none once leadership ends', () => {
    // A supervisor that asks on every loop turn must not pile up timers on
    // the session's deadline, which outlives this leadership (etcd) and
    // re-plans every one of them on every heartbeat.
    const { handle, clock, deadline } = setup();
    const idle = clock.pending; // the deadline's own timer
    const first = handle.signalAhead(200);
    let same = 0;
    for (let i = 0; i < 100_000; i += 1) if (handle.signalAhead(200) === first) same += 1;
    expect(same).toBe(100_000);
    const other = handle.signalAhead(50);
    expect(clock.pending).toBe(idle + 2);
    clock.advance(300);
    deadline.contact();
    expect(clock.pending).toBe(idle + 2);
    handle.lose('resigned');
    expect([first.aborted, other.aborted]).toEqual([true, true]);
    expect(clock.pending).toBe(idle);
    expect(handle.signalAhead(200).aborted).toBe(true);
    expect(clock.pending).toBe(idle);
  });

  it('signalAhead asked again after it fired, once contact moved the deadline on, is a fresh live signal', () => {
    const { handle, clock, deadline } = setup();
    const idle = clock.pending;
    const first = handle.signalAhead(200);
    clock.advance(700); // 200 ms before the deadline (900)
    expect(first.aborted).toBe(true);
    expect(clock.pending).toBe(idle);
    deadline.contact(); // deadline 1 600
    expect(handle.isLeader).toBe(true);
    const second = handle.signalAhead(200);
    expect(second).not.toBe(first);
    expect([first.aborted, second.aborted]).toEqual([true, false]);
    expect(handle.signalAhead(200)).toBe(second);
    expect(clock.pending).toBe(idle + 1);
    clock.advance(700);
    expect(second.aborted).toBe(true);
  });

  it('proclaim writes while leader and is refused after loss', async () => {
    const { handle, calls } = setup();
    await handle.proclaim('v2');
    expect(handle.value).toBe('v2');
    expect(calls.proclaim).toEqual(['v2']);
    handle.lose('deleted');
    await expect(handle.proclaim('v3')).rejects.toMatchObject({ name: 'NotLeaderError', code: 'ELECT_NOT_LEADER' });
    expect(handle.value).toBe('v2');
  });

  it('proclaim refuses a bad value before writing', async () => {
    const { handle, calls } = setup();
    await expect(handle.proclaim(7 as unknown as string)).rejects.toMatchObject({ name: 'InvalidOptionError', option: 'value' });
    await expect(handle.proclaim('x'.repeat(65_537))).rejects.toMatchObject({ option: 'value' });
    expect(calls.proclaim).toEqual([]);
  });

  it('a failed proclaim leaves the value unchanged', async () => {
    const { handle } = setup({ proclaim: async () => Promise.reject(new Error('refused')) });
    await expect(handle.proclaim('v2')).rejects.toThrow('refused');
    expect(handle.value).toBe('me');
  });
});
