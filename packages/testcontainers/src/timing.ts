/**
 * One timing base for every real-server test. Slow machines (CI under load,
 * emulation) set `ELECT_TEST_TIMING=3` and every timeout here, readiness
 * wait and test budget grows by the same factor, so nothing needs editing and
 * no test hides a magic number of its own.
 *
 * Durations passed to the helpers below are *base* milliseconds: the helpers
 * scale them. Pass `scaled(ms)` only to APIs outside this module.
 */
import { setTimeout as delay } from 'node:timers/promises';

function readTimingBase(): number {
  const raw = process.env.ELECT_TEST_TIMING;
  if (raw === undefined || raw.trim() === '') return 1;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`ELECT_TEST_TIMING must be a positive number, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** The factor every test timeout is multiplied by (`ELECT_TEST_TIMING`, default 1). */
export const timingBase: number = readTimingBase();

/** `ms` scaled by the timing base, rounded to whole milliseconds. */
export function scaled(ms: number): number {
  return Math.max(1, Math.round(ms * timingBase));
}

/** Rejected by {@link withTimeout} and {@link waitUntil}; `what` names what was awaited. */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
  constructor(
    readonly what: string,
    readonly ms: number,
    options?: { cause?: unknown },
  ) {
    super(`timed out after ${ms} ms waiting for ${what}`, options);
  }
}

/**
 * Resolves or rejects like `promise`, or rejects with a {@link TimeoutError}
 * naming `what` once `scaled(ms)` have passed. The timer never outlives the
 * race, so it does not hold the process open.
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  const limit = scaled(ms);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(what, limit)), limit);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface WaitOptions {
  /** Base budget for the whole wait (scaled). */
  timeoutMs: number;
  /** Named in the timeout error: "timed out after … waiting for <what>". */
  what: string;
  /** Pause between attempts (not scaled: it is a polling rate, not a deadline). Default 50 ms, growing to 250 ms. */
  intervalMs?: number;
  /** Base budget for one attempt (scaled); a hung probe counts as "not yet". Default 2000 ms. */
  attemptTimeoutMs?: number;
  /** Ends the wait early (e.g. the server process exited), rejecting with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Polls `probe` — which should make a real request (a 4lw command, an HTTP
 * health check) — until it returns something other than `undefined`/`false`,
 * and resolves with that value. A probe that throws or hangs counts as "not
 * ready yet"; the last such error becomes the timeout's `cause`.
 *
 * This is for readiness only: tests wait for the event they care about, not
 * for a poll to come true.
 */
export async function waitUntil<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  options: WaitOptions,
): Promise<T> {
  const limit = scaled(options.timeoutMs);
  const deadline = Date.now() + limit;
  let interval = options.intervalMs ?? 50;
  const growTo = Math.max(interval, 250);
  let lastError: unknown;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const attempt = Promise.resolve(probe());
      const value = await withTimeout(attempt, options.attemptTimeoutMs ?? 2000, `one attempt at ${options.what}`);
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    options.signal?.throwIfAborted();
    const left = deadline - Date.now();
    if (left <= 0) throw new TimeoutError(options.what, limit, { cause: lastError });
    try {
      await delay(Math.min(interval, left), undefined, options.signal ? { signal: options.signal } : {});
    } catch (error) {
      options.signal?.throwIfAborted(); // surface the caller's reason, not a generic AbortError
      throw error;
    }
    interval = Math.min(growTo, Math.round(interval * 1.5));
  }
}
