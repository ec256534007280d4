import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '@elect/core/testing';

describe('ManualClock', () => {
  it('fires timers in time order, each seeing its due time, including timers they schedule', () => {
    const clock = new ManualClock(100);
    const log: string[] = [];
    clock.schedule(() => log.push(`b@${clock.now()}`), 20);
    clock.schedule(() => {
      log.push(`a@${clock.now()}`);
      clock.schedule(() => log.push(`c@${clock.now()}`), 5);
    }, 10);
    clock.schedule(() => log.push(`late@${clock.now()}`), 100);
    clock.advance(50);
    expect(log).toEqual(['a@110', 'c@115', 'b@120']);
    expect(clock.now()).toBe(150);
    expect(clock.pending).toBe(1);
    expect(clock.nextAt).toBe(200);
  });

  it('keeps scheduling order for timers due together; cancel and negative delays', () => {
    const clock = new ManualClock();
    const log: number[] = [];
    clock.schedule(() => log.push(1), 10);
    const cancel = clock.schedule(() => log.push(2), 10);
    clock.schedule(() => log.push(3), 10);
    clock.schedule(() => log.push(0), -5);
    cancel();
    clock.advance(0);
    expect(log).toEqual([0]);
    clock.advanceTo(10);
    expect(log).toEqual([0, 1, 3]);
    clock.advanceTo(5); // never backwards
    expect(clock.now()).toBe(10);
  });

  it('rejects bad arguments', () => {
    expect(() => new ManualClock(Number.NaN)).toThrow(expect.objectContaining({ option: 'start' }));
    expect(() => new ManualClock().advance(-1)).toThrow(expect.objectContaining({ option: 'ms' }));
  });
});
