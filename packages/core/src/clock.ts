/**
 * Time as the loss deadline sees it. The default clock is monotonic (it does
 * not jump when the wall clock is set) but reads in epoch milliseconds, so a
 * deadline can be compared with `Date.now()` for display. Tests inject a
 * manual clock (`ManualClock` in `@elect/core/testing`).
 */
export interface Clock {
  /** Milliseconds; only differences matter. */
  now(): number;
  /** Calls `fn` once after `ms`; returns a cancel function. */
  schedule(fn: () => void, ms: number): () => void;
}

const origin = performance.timeOrigin;

export const systemClock: Clock = {
  now: () => origin + performance.now(),
  schedule(fn, ms) {
    const timer = setTimeout(fn, Math.max(0, ms));
    // A pending deadline must not keep a process alive that has nothing else to do.
    timer.unref?.();
    return () => clearTimeout(timer);
  },
};
