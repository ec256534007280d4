/**
 * Waiting tools for the conformance suite. Every wait is on something that
 * happens (a promise, a signal, an iterator record) and has a timeout with a
 * message naming what was awaited; none of them sleeps to synchronise.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import type { CandidateInfo, Election, Leadership } from '../contract.js';
import { ErrorCode, isElectError } from '../errors.js';
import type { Logger } from '../logger.js';
import { sameLeader } from '../stream.js';

/** Milliseconds on a monotonic clock, for ordering what the test saw. */
export function now(): number {
  return performance.now();
}

/** `promise`, or a rejection naming `what` after `ms`. */
export async function within<T>(promise: PromiseLike<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether the object `ref` points to has been garbage-collected, after a few
 * full collections with a turn of the event loop between them (a WeakRef's
 * target lives at least until the job that made or read it ends). Turns on
 * `--expose-gc` for this process to reach V8's collector.
 */
export async function collected(ref: WeakRef<object>): Promise<boolean> {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  for (let i = 0; i < 5 && ref.deref() !== undefined; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  return ref.deref() === undefined;
}

/** A promise the test may never await: its rejection is not reported as unhandled. */
export function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

export interface Stamped<T> {
  readonly value: T;
  /** `now()` when it resolved. */
  readonly at: number;
}

/** Resolves with the value and the moment it arrived. */
export function stamp<T>(promise: Promise<T>): Promise<Stamped<T>> {
  return quiet(promise.then((value) => ({ value, at: now() })));
}

/** Resolves with the signal's reason and the moment it aborted. */
export function abortedAt(signal: AbortSignal): Promise<Stamped<unknown>> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve({ value: signal.reason, at: now() });
    else signal.addEventListener('abort', () => resolve({ value: signal.reason, at: now() }), { once: true });
  });
}

/** The fields of a leadership that `leader()`, `candidates()` and observers report. */
export function info(leadership: Leadership): Pick<CandidateInfo, 'id' | 'value' | 'token' | 'key'> {
  return { id: leadership.id, value: leadership.value, token: leadership.token, key: leadership.key };
}

/** Asserts a LeadershipLostError (by code: works across duplicate installs) with one of `reasons`. */
export function lossReason(error: unknown): string {
  if (!isElectError(error) || error.code !== ErrorCode.LeadershipLost) {
    throw new Error(`expected a LeadershipLostError, got ${String(error)}`);
  }
  return (error as unknown as { reason: string }).reason;
}

export type Item<T> = { kind: 'value'; value: T } | { kind: 'end' } | { kind: 'error'; error: unknown };

/** Consumes an async iterable into a queue the test reads with timeouts. */
export class Recorder<T> {
  /** Every value received so far, in order. */
  readonly seen: T[] = [];
  private readonly items: Item<T>[] = [];
  private wake: (() => void) | undefined;

  constructor(iterable: AsyncIterable<T>) {
    void this.pump(iterable);
  }

  /** The next record (value, end or error), waiting at most `ms`. */
  async next(ms: number, what: string): Promise<Item<T>> {
    if (this.items.length === 0) {
      await within(new Promise<void>((resolve) => (this.wake = resolve)), ms, what);
    }
    return this.items.shift() as Item<T>;
  }

  /** The next record, which must be a value. */
  async value(ms: number, what: string): Promise<T> {
    const item = await this.next(ms, what);
    if (item.kind === 'value') return item.value;
    throw new Error(`expected ${what}, but the iteration ${item.kind === 'end' ? 'ended' : `threw ${String(item.error)}`}`);
  }

  /** Skips values until one matches; fails on end or error. */
  async find(match: (value: T) => boolean, ms: number, what: string): Promise<T> {
    const until = now() + ms;
    for (;;) {
      const value = await this.value(Math.max(1, Math.round(until - now())), what);
      if (match(value)) return value;
    }
  }

  /** The next record must be the end: nothing else was delivered before it. */
  async end(ms: number, what: string): Promise<void> {
    const item = await this.next(ms, what);
    if (item.kind !== 'end') {
      throw new Error(`expected ${what}, got ${item.kind === 'value' ? `another value ${show(item.value)}` : `an error ${String(item.error)}`}`);
    }
  }

  private push(item: Item<T>): void {
    this.items.push(item);
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private async pump(iterable: AsyncIterable<T>): Promise<void> {
    try {
      for await (const value of iterable) {
        this.seen.push(value);
        this.push({ kind: 'value', value });
      }
      this.push({ kind: 'end' });
    } catch (error) {
      this.push({ kind: 'error', error });
    }
  }
}

/** Leaders seen by an observer must change between two consecutive values. */
export function repeats(seen: readonly (CandidateInfo | undefined)[]): string[] {
  const found: string[] = [];
  for (let i = 1; i < seen.length; i++) {
    if (sameLeader(seen[i - 1], seen[i])) found.push(`value #${i} repeats #${i - 1}: ${show(seen[i])}`);
  }
  return found;
}

/**
 * Re-reads the queue until `match` holds. The contract has no event for "an
 * entry was written", so setting up waiting candidates in a known order needs
 * this one re-read loop; tests use it only for that.
 */
export async function queued(
  election: Election,
  match: (queue: CandidateInfo[]) => boolean,
  ms: number,
  what: string,
): Promise<CandidateInfo[]> {
  const until = now() + ms;
  let pause = 5;
  let last: CandidateInfo[] = [];
  for (;;) {
    last = await within(election.candidates(), Math.max(1, Math.round(until - now())), `${what} (reading the queue)`);
    if (match(last)) return last;
    if (now() >= until) throw new Error(`timed out after ${ms} ms waiting for ${what}; the queue is ${show(last)}`);
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(100, pause * 2);
  }
}

/** Checks "at most one leader at any time" over leaderships handed out in this process. */
export class OneLeader {
  readonly violations: string[] = [];
  private readonly leading = new Set<Leadership>();
  count = 0;

  /** Passes the campaign through, recording when its leadership starts and ends. */
  watch(campaign: Promise<Leadership>): Promise<Leadership> {
    return quiet(
      campaign.then((leadership) => {
        this.count++;
        if (leadership.signal.aborted) return leadership;
        for (const other of this.leading) {
          this.violations.push(`${leadership.id} (token ${leadership.token}) became leader while ${other.id} (token ${other.token}) still led`);
        }
        this.leading.add(leadership);
        leadership.signal.addEventListener('abort', () => this.leading.delete(leadership), { once: true });
        return leadership;
      }),
    );
  }
}

/** A logger that counts `{ event: 'wake' }` records (pino's call shape). */
export class WakeCounter {
  total = 0;
  /** Of `total`: wakes by a touch of the candidate's own entry (`touched: true`), not by what it waited on. */
  touches = 0;
  readonly byHandle = new Map<string, number>();
  /** Per entry key: what its campaign last said it waits on (`{ event: 'waiting', key, on }`). */
  readonly waitsOn = new Map<string, string>();
  private waiters: Array<{ n: number; resolve: () => void }> = [];
  private checks: Array<{ done: () => boolean; resolve: () => void }> = [];

  /** Resolves once `done()` holds (checked on every record); rejects naming `what` after `ms`. */
  until(done: () => boolean, ms: number, what: string): Promise<void> {
    if (done()) return Promise.resolve();
    return within(new Promise<void>((resolve) => this.checks.push({ done, resolve })), ms, `${what} (waiting on: ${show(Object.fromEntries(this.waitsOn))})`);
  }

  /** Resolves once `n` wakes were counted in all; rejects naming `what` after `ms`. */
  reach(n: number, ms: number, what: string): Promise<void> {
    if (this.total >= n) return Promise.resolve();
    return within(new Promise<void>((resolve) => this.waiters.push({ n, resolve })), ms, `${what} (wakes so far: ${show(Object.fromEntries(this.byHandle))})`);
  }

  logger(handle: string): Logger {
    const count = (fields: object): void => {
      const { event, key, on, touched } = fields as { event?: unknown; key?: unknown; on?: unknown; touched?: unknown };
      if (event === 'waiting' && typeof key === 'string' && typeof on === 'string') {
        this.waitsOn.set(key, on);
        const ready = this.checks.filter((c) => c.done());
        this.checks = this.checks.filter((c) => !ready.includes(c));
        for (const c of ready) c.resolve();
      }
      if (event !== 'wake') return;
      this.total++;
      if (touched === true) this.touches++;
      this.byHandle.set(handle, (this.byHandle.get(handle) ?? 0) + 1);
      const due = this.waiters.filter((w) => w.n <= this.total);
      this.waiters = this.waiters.filter((w) => w.n > this.total);
      for (const w of due) w.resolve();
    };
    return { debug: count, info: count, warn: count, error: count };
  }
}

export function show(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(value);
}
