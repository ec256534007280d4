/**
 * Small waiting helpers on the injected clock. Every wait takes a signal so
 * that close and abort end it at once.
 */
import { abortReason, type Clock } from '@elect/core';

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

/** Exponential backoff for retry loops: 50 ms doubling up to `maxMs`. */
export class Backoff {
  private next = 50;
  constructor(private readonly maxMs: number) {}

  wait(clock: Clock, signal?: AbortSignal): Promise<void> {
    const ms = this.next;
    this.next = Math.min(this.maxMs, this.next * 2);
    return sleep(clock, ms, signal);
  }

  reset(): void {
    this.next = 50;
  }
}
