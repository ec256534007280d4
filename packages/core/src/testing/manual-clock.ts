/**
 * A clock that moves only when told, for tests of anything that takes a
 * `Clock` (the loss deadline, the in-memory server and its connections).
 */
import type { Clock } from '../clock.js';
import { InvalidOptionError } from '../errors.js';
import { describe } from '../options.js';

interface Timer {
  readonly at: number;
  /** Creation order: timers due at the same instant fire in the order they were scheduled. */
  readonly seq: number;
  readonly fn: () => void;
}

/**
 * A `Clock` whose time only moves on `advance()`. Timers fire synchronously,
 * in due order, inside `advance()`; nothing happens between calls. Pass it to
 * `MemoryServer` (and so to its connections) or to `LossDeadline`.
 */
export class ManualClock implements Clock {
  private time: number;
  private seq = 0;
  private readonly timers = new Set<Timer>();

  /** `start` is the initial reading of `now()` (default 0). */
  constructor(start = 0) {
    if (!Number.isFinite(start)) throw new InvalidOptionError('start', `must be a finite number, got ${describe(start)}`);
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  /**
   * Runs `fn` once the clock has been advanced by `ms` (a negative or NaN
   * delay means "due now": it fires on the next `advance()`, even `advance(0)`).
   * Returns a cancel function.
   */
  schedule(fn: () => void, ms: number): () => void {
    const timer: Timer = { at: this.time + (ms > 0 ? ms : 0), seq: this.seq++, fn };
    this.timers.add(timer);
    return () => {
      this.timers.delete(timer);
    };
  }

  /** How many timers are waiting. */
  get pending(): number {
    return this.timers.size;
  }

  /** When the next timer is due, or undefined when none is. */
  get nextAt(): number | undefined {
    return this.earliest()?.at;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way,
   * in time order, each with `now()` reading its due time — including timers
   * scheduled by the ones that fire. Synchronous: promise callbacks queued by
   * the timers run after it returns (await something to let them run). A
   * timer that throws stops the advance and the error propagates.
   */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new InvalidOptionError('ms', `must be a non-negative number of milliseconds, got ${describe(ms)}`);
    }
    const target = this.time + ms;
    for (let next = this.earliest(); next !== undefined && next.at <= target; next = this.earliest()) {
      this.timers.delete(next);
      this.time = Math.max(this.time, next.at);
      next.fn();
    }
    this.time = target;
  }

  /** Advances to the absolute reading `time` (no-op if the clock is already there or later). */
  advanceTo(time: number): void {
    if (time > this.time) this.advance(time - this.time);
  }

  private earliest(): Timer | undefined {
    let best: Timer | undefined;
    for (const timer of this.timers) {
      if (!best || timer.at < best.at || (timer.at === best.at && timer.seq < best.seq)) best = timer;
    }
    return best;
  }
}
