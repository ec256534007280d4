/**
 * Waiting, on the injected clock. Every wait in the backends and the CLI
 * goes through these, so that a `ManualClock` drives every retry and pause
 * in tests, and a stop (close, abort) ends a wait at once.
 *
 * The system clock's timers are unref'd: a wait alone does not keep a
 * process alive. Code that must hold the process while it waits (a campaign
 * someone awaits) holds it by other means.
 */
import type { Clock } from './clock.js';
import { abortReason } from './errors.js';

/** Resolves after `ms` on `clock`; rejects with the signal's reason (as an ElectError) when it aborts first. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      cancel();
      reject(abortReason(signal as AbortSignal));
    };
    const cancel = clock.schedule(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Like `sleep`, but never rejects: true when the time passed, false when `signal` aborted first. */
export async function pause(clock: Clock, ms: number, signal?: AbortSignal): Promise<boolean> {
  try {
    await sleep(clock, ms, signal);
    return true;
  } catch {
    return false;
  }
}

/** `promise`'s value, or `undefined` if it has not settled within `ms` on `clock`. Rejects if `promise` does. */
export async function within<T>(clock: Clock, promise: Promise<T>, ms: number): Promise<T | undefined> {
  let cancel = (): void => {};
  const timeout = new Promise<undefined>((resolve) => (cancel = clock.schedule(() => resolve(undefined), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    cancel();
  }
}

/**
 * A signal that aborts when the first of `signals` does (with its reason),
 * and `release()`, which takes it off them again; `undefined` entries are
 * skipped. For joining a long-lived signal (a connection's, an election's)
 * with one operation's: `AbortSignal.any` cannot be undone, and on Node 20
 * each call leaves an entry on every source for as long as that source
 * lives — 60,000 calls left 60,000 entries on 20.20 (22 and 24 clean them
 * up after a collection) — so one per read grows without bound. Release it
 * when the operation ends, in a `finally`.
 */
export function linkSignals(signals: readonly (AbortSignal | undefined)[]): { readonly signal: AbortSignal; release(): void } {
  const sources = signals.filter((source): source is AbortSignal => source !== undefined);
  const aborted = sources.find((source) => source.aborted);
  if (aborted) return { signal: aborted, release: () => {} };
  if (sources.length === 1) return { signal: sources[0] as AbortSignal, release: () => {} };
  const controller = new AbortController();
  const release = (): void => {
    for (const source of sources) source.removeEventListener('abort', onAbort);
  };
  const onAbort = (event: Event): void => {
    release();
    controller.abort((event.target as AbortSignal).reason);
  };
  for (const source of sources) source.addEventListener('abort', onAbort);
  return { signal: controller.signal, release };
}

/** A promise that resolves when `signal` aborts (at once if it has), and a way to stop listening. */
export function whenAborted(signal: AbortSignal): { readonly promise: Promise<void>; dispose(): void } {
  let listener: () => void = () => {};
  const promise = new Promise<void>((resolve) => {
    listener = () => resolve();
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', listener, { once: true });
  });
  return { promise, dispose: () => signal.removeEventListener('abort', listener) };
}

export interface BackoffOptions {
  /** The first pause. Default 50 ms. */
  initialMs?: number;
  /** The longest pause: each pause doubles up to this. */
  maxMs: number;
}

/** Exponential backoff for retry loops: `initialMs` doubling up to `maxMs`; `reset()` after a success. */
export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private next: number;

  constructor(options: BackoffOptions) {
    this.initialMs = options.initialMs ?? 50;
    this.maxMs = options.maxMs;
    this.next = this.initialMs;
  }

  /** The next pause, doubling the one after (for a caller that waits by other means). */
  take(): number {
    const ms = this.next;
    this.next = Math.min(this.maxMs, this.next * 2);
    return ms;
  }

  /** Waits the next pause (see `sleep`). */
  wait(clock: Clock, signal?: AbortSignal): Promise<void> {
    return sleep(clock, this.take(), signal);
  }

  reset(): void {
    this.next = this.initialMs;
  }
}
