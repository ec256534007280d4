import { describe, expect, it } from '@jest/globals';
import { AbortError, ElectError, runWhileLeader, Backoff, pause, sleep, whenAborted, within } from '@elect/core';
import { linkSignals } from '@elect/core/backend';
import { ManualClock, MemoryServer, signalHolds } from '@elect/core/testing';
import { getEventListeners } from 'node:events';

/** Lets every settled promise run its reactions. */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Whether `promise` has settled, without waiting for it. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await flush();
  return done;
}

describe('waiting on the injected clock', () => {
  it('sleep resolves when the clock reaches its time, not before', async () => {
    const clock = new ManualClock();
    const slept = sleep(clock, 100);
    clock.advance(99);
    expect(await settled(slept)).toBe(false);
    clock.advance(1);
    expect(await settled(slept)).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it('sleep rejects with an ElectError at once when its signal aborts, and leaves no timer', async () => {
    const clock = new ManualClock();
    const stop = new AbortController();
    const slept = sleep(clock, 100, stop.signal);
    stop.abort();
    await expect(slept).rejects.toBeInstanceOf(AbortError);
    expect(clock.pending).toBe(0);
    const reason = new ElectError('ELECT_CLOSED', 'closed');
    await expect(sleep(clock, 100, AbortSignal.abort(reason))).rejects.toBe(reason);
    expect(clock.pending).toBe(0);
  });

  it('pause says whether the time passed (true) or the signal aborted first (false)', async () => {
    const clock = new ManualClock();
    const stop = new AbortController();
    const passed = pause(clock, 10, stop.signal);
    clock.advance(10);
    await expect(passed).resolves.toBe(true);
    const stopped = pause(clock, 10, stop.signal);
    stop.abort();
    await expect(stopped).resolves.toBe(false);
  });

  it('within gives the value if it comes in time, undefined after, and cancels its timer', async () => {
    const clock = new ManualClock();
    await expect(within(clock, Promise.resolve(7), 50)).resolves.toBe(7);
    expect(clock.pending).toBe(0);
    const never = new Promise<number>(() => {});
    const late = within(clock, never, 50);
    clock.advance(49);
    expect(await settled(late)).toBe(false);
    clock.advance(1);
    await expect(late).resolves.toBeUndefined();
    await expect(within(clock, Promise.reject(new Error('no')), 50)).rejects.toThrow('no');
    expect(clock.pending).toBe(0);
  });

  it('whenAborted resolves on abort (at once if already aborted) and stops listening on dispose', async () => {
    const stop = new AbortController();
    const waiting = whenAborted(stop.signal);
    expect(await settled(waiting.promise)).toBe(false);
    stop.abort();
    expect(await settled(waiting.promise)).toBe(true);
    expect(await settled(whenAborted(AbortSignal.abort()).promise)).toBe(true);
    const other = new AbortController();
    const disposed = whenAborted(other.signal);
    disposed.dispose();
    other.abort();
    expect(await settled(disposed.promise)).toBe(false);
  });

  it('linkSignals aborts with the first source\'s reason, and once released leaves nothing on its sources, unlike AbortSignal.any', () => {
    const long = new AbortController();
    const op = new AbortController();
    const linked = linkSignals([long.signal, undefined, op.signal]);
    expect(linked.signal.aborted).toBe(false);
    op.abort(new AbortError('stop'));
    expect(linked.signal.reason).toBe(op.signal.reason);
    expect(getEventListeners(long.signal, 'abort')).toHaveLength(0); // an abort releases it
    for (let i = 0; i < 10_000; i += 1) linkSignals([long.signal, new AbortController().signal]).release();
    expect(signalHolds(long.signal)).toEqual({ listeners: 0, dependants: 0 });
    // What it is for: AbortSignal.any leaves one entry per call (Node 20 until the
    // source is collected; later ones until a collection), which this test sees.
    const control = new AbortController();
    AbortSignal.any([control.signal, new AbortController().signal]);
    expect(signalHolds(control.signal)).toEqual({ listeners: 0, dependants: 1 });
    // Already aborted: that signal; a single one: itself; nothing to release.
    expect(linkSignals([long.signal, op.signal]).signal).toBe(op.signal);
    expect(linkSignals([undefined, long.signal]).signal).toBe(long.signal);
  });

  it('Backoff doubles from its first pause up to its ceiling, and starts again after reset', async () => {
    const clock = new ManualClock();
    const backoff = new Backoff({ initialMs: 100, maxMs: 500 });
    const pauses: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const start = clock.now();
      const waited = backoff.wait(clock);
      clock.advance((clock.nextAt ?? Number.NaN) - clock.now());
      await waited;
      pauses.push(clock.now() - start);
    }
    expect(pauses).toEqual([100, 200, 400, 500, 500]);
    backoff.reset();
    expect(backoff.take()).toBe(100);
    expect(new Backoff({ maxMs: 1000 }).take()).toBe(50);
  });

  it("runWhileLeader's settle timeout runs on the clock it is given", async () => {
    const clock = new ManualClock();
    const server = new MemoryServer({ clock });
    const connection = server.connect();
    const election = connection.election('settle');
    const stop = new AbortController();
    let started = (): void => {};
    const running = new Promise<void>((resolve) => (started = resolve));
    // A task that ignores its signal: only the settle timeout ends the wait.
    const result = runWhileLeader(
      election,
      () => {
        started();
        return new Promise(() => {});
      },
      { id: 'stuck', signal: stop.signal, settleTimeoutMs: 1_000, clock },
    );
    await running;
    stop.abort();
    await flush(); // the abort reaches runWhileLeader, which starts the settle timeout
    clock.advance(999);
    expect(await settled(result)).toBe(false);
    clock.advance(1);
    await expect(result).rejects.toThrow('did not stop within 1000 ms');
    await connection.close();
  });

  it('runWhileLeader refuses a clock that is not one, naming the option', async () => {
    const election = new MemoryServer().connect().election('bad-clock');
    await expect(runWhileLeader(election, () => 1, { id: 'a', clock: { now: () => 0 } as never })).rejects.toThrow(/clock/);
  });
});
