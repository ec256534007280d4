/**
 * The `Leadership` a task of `runWhileLeader` sees: the real one, except that
 * its `signal` also aborts when the supervisor stops the task (caller abort)
 * while leadership is still held — so the task can be stopped *before* our
 * entry is deleted and someone else starts leading.
 */
import type { HandoverOptions, Leadership } from './contract.js';
import { aheadLead } from './deadline.js';
import { NotLeaderError } from './errors.js';

export class TaskLeadership implements Leadership {
  readonly signal: AbortSignal;
  private readonly aheads = new Map<number, AbortSignal>();

  /** `stop` aborts (with a `LeadershipLostError`) when the supervisor wants the task to end. */
  constructor(
    private readonly inner: Leadership,
    stop: AbortSignal,
  ) {
    this.signal = AbortSignal.any([inner.signal, stop]);
  }

  get id(): string {
    return this.inner.id;
  }

  get value(): string {
    return this.inner.value;
  }

  get token(): bigint {
    return this.inner.token;
  }

  get key(): string {
    return this.inner.key;
  }

  get deadline(): number {
    return this.inner.deadline;
  }

  get timeoutMs(): number {
    return this.inner.timeoutMs;
  }

  get isLeader(): boolean {
    return !this.signal.aborted;
  }

  /** Aborts `leadMs` before the loss deadline, when leadership ends, or when the task is stopped. */
  signalAhead(leadMs: number): AbortSignal {
    aheadLead(leadMs);
    if (this.signal.aborted) return this.signal;
    let ahead = this.aheads.get(leadMs);
    if (ahead === undefined || ahead.aborted) {
      ahead = AbortSignal.any([this.inner.signalAhead(leadMs), this.signal]);
      this.aheads.set(leadMs, ahead);
    }
    return ahead;
  }

  /** Resigns the real leadership: the task's own way to step down (`runWhileLeader` then resolves with its value). */
  resign(): Promise<void> {
    return this.inner.resign();
  }

  /** Hands the real leadership over: like `resign()`, the task's own way to step down. */
  handover(options?: Pick<HandoverOptions, 'to'>): Promise<void> {
    return this.inner.handover(options);
  }

  /** Rejects with `NotLeaderError` once this task was told to stop. */
  proclaim(value: string): Promise<void> {
    if (this.signal.aborted) {
      return Promise.reject(new NotLeaderError(`${this.id} cannot proclaim: its task was told to stop`, { cause: this.signal.reason }));
    }
    return this.inner.proclaim(value);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.resign();
  }
}
