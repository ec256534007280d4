/**
 * A session: one lease, kept alive by our own loop, and the loss deadline it
 * drives. Like Go's `concurrency.Session` it is separate from any election;
 * unlike etcd3's `Lease`, it decides loss on our clock:
 *
 *   - every keepalive is sent with nothing else in flight, and when its answer
 *     arrives the deadline moves to the moment it was *sent*
 *     (`LossDeadline.contact(sentAt)`);
 *   - a keepalive that errs or stays unanswered makes the session
 *     `suspended`; an answer before the deadline makes it `alive` again;
 *   - at the deadline the session ends (`deadline`) whatever happens next —
 *     it is never revived, a fresh lease replaces it;
 *   - an answer with TTL ≤ 0 (the lease is gone) ends it (`session-expired`).
 *
 * etcd3's own `lost` event comes ~2 × TTL after the last good keepalive, long
 * after the server gave the lease away; we never wait for it.
 */
import { type Clock, type Logger } from '@elect/core';
import { LossDeadline, StateMachine } from '@elect/core/backend';
import type { Endpoints } from './endpoints.js';
import { isAuthTokenInvalid, isLeaseNotFound } from './errors.js';
import { KeepAliveStream, KeepAliveTimeout } from './keepalive-stream.js';
import { leaseHex } from './keys.js';
import { keepAliveIntervalMs } from './pacing.js';

export type SessionEnd = 'deadline' | 'session-expired' | 'closed';

export type SessionState =
  | { readonly kind: 'alive' }
  | { readonly kind: 'suspended'; readonly deadline: number }
  | { readonly kind: 'ended'; readonly reason: SessionEnd };

const edges = {
  alive: ['suspended', 'ended'],
  suspended: ['alive', 'ended'],
  ended: [],
} as const;

export interface SessionTiming {
  ttlMs: number;
  safetyMarginMs: number;
  /** Upper bound for waiting on one keepalive answer. */
  operationTimeoutMs: number;
  clock: Clock;
  logger: Logger;
}

export class Session {
  readonly hex: string;
  readonly deadline: LossDeadline;
  private readonly machine: StateMachine<SessionState>;
  private readonly controller = new AbortController();
  private readonly listeners = new Set<(state: SessionState, previous: SessionState) => void>();
  private stream: KeepAliveStream | undefined;
  private wakeLoop: () => void = () => {};

  /**
   * Starts keeping `leaseId` alive. `grantedAt` is when the grant that
   * created the lease was first sent: the server started the TTL no earlier.
   */
  constructor(
    readonly leaseId: string,
    grantedAt: number,
    private readonly endpoints: Endpoints,
    private readonly timing: SessionTiming,
  ) {
    this.hex = leaseHex(leaseId);
    this.machine = new StateMachine<SessionState>({ kind: 'alive' }, edges, (next, previous) => {
      for (const listener of this.listeners) listener(next, previous);
    });
    this.deadline = new LossDeadline({
      timeoutMs: timing.ttlMs,
      safetyMarginMs: timing.safetyMarginMs,
      clock: timing.clock,
      lastContact: grantedAt,
      onExpire: () => this.end('deadline'),
    });
    void this.keepAlive();
  }

  get state(): SessionState {
    return this.machine.state;
  }

  get ended(): boolean {
    return this.machine.state.kind === 'ended';
  }

  /** Aborted when the session ends; `reason` is the `SessionEnd`. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  onChange(listener: (state: SessionState, previous: SessionState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The server told us (another way) that the lease is gone. */
  expire(): void {
    this.end('session-expired');
  }

  /** Ends the session because its owner closes it (the caller revokes the lease). */
  close(): void {
    this.end('closed');
  }

  private end(reason: SessionEnd): void {
    if (this.ended) return;
    if (reason !== 'deadline') this.deadline.stop();
    this.stream?.close();
    this.stream = undefined;
    this.wakeLoop();
    const level = reason === 'closed' ? 'info' : 'warn';
    this.timing.logger[level]({ event: reason === 'closed' ? 'session-closed' : reason, lease: this.hex }, `lease ${this.hex} ended: ${reason}`);
    this.machine.transition({ kind: 'ended', reason });
    this.controller.abort(reason);
  }

  private suspend(cause: unknown): void {
    if (this.machine.state.kind !== 'alive') return;
    this.timing.logger.warn(
      { event: 'suspended', lease: this.hex, deadline: this.deadline.deadline, err: String(cause) },
      'no keepalive answer from etcd; leadership holds until the loss deadline',
    );
    this.machine.transition({ kind: 'suspended', deadline: this.deadline.deadline });
  }

  /** The loop: one keepalive in flight, every TTL/3 while answered, faster while not. */
  private async keepAlive(): Promise<void> {
    const { ttlMs, operationTimeoutMs, clock } = this.timing;
    const interval = keepAliveIntervalMs(ttlMs);
    const answerTimeout = Math.max(250, Math.min(interval, operationTimeoutMs));
    while (!this.ended) {
      const pinned = this.endpoints.pinned();
      const sentAt = clock.now();
      let next = sentAt + interval;
      try {
        this.stream ??= await KeepAliveStream.open(pinned.client, clock, answerTimeout);
        if (this.ended) break;
        const ttl = await this.stream.ping(this.leaseId, clock, answerTimeout);
        if (this.ended) break;
        if (ttl <= 0) {
          this.end('session-expired');
          break;
        }
        this.deadline.contact(sentAt);
        if (this.machine.state.kind === 'suspended' && !this.deadline.expired) {
          this.timing.logger.info({ event: 'resumed', lease: this.hex }, 'etcd answered keepalives again');
          this.machine.transition({ kind: 'alive' });
        }
      } catch (error) {
        this.stream?.close();
        this.stream = undefined;
        if (this.ended) break;
        if (isLeaseNotFound(error)) {
          this.end('session-expired');
          break;
        }
        this.suspend(error);
        if (isAuthTokenInvalid(error)) this.endpoints.authExpired(pinned);
        // Silence or a transport error: try the next member — at once after
        // silence (we already waited), shortly after a fast error.
        else this.endpoints.failed(pinned, error);
        next = error instanceof KeepAliveTimeout ? clock.now() : clock.now() + Math.min(250, interval);
      }
      await this.sleepUntil(next);
    }
  }

  private sleepUntil(at: number): Promise<void> {
    return new Promise((resolve) => {
      let cancel = (): void => {};
      const finish = (): void => {
        cancel();
        this.wakeLoop = () => {};
        resolve();
      };
      this.wakeLoop = finish;
      // (An injected clock may run a due timer at once: `finish` exists by then.)
      cancel = this.timing.clock.schedule(finish, at - this.timing.clock.now());
    });
  }
}
