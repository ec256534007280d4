/**
 * A session: one lease, kept alive by our own loop, which drives core's
 * `Liveness` (the states and the loss deadline). Like Go's
 * `concurrency.Session` it is separate from any election; unlike etcd3's
 * `Lease`, it decides loss on our clock:
 *
 *   - every keepalive is sent with nothing else in flight, and when its answer
 *     arrives the deadline moves to the moment it was *sent*
 *     (`LossDeadline.contact(sentAt)`);
 *   - a keepalive that errs or stays unanswered makes the session
 *     `suspended`; an answer before the deadline makes it `live` again;
 *   - at the deadline the session ends (`deadline`) whatever happens next —
 *     it is never revived, a fresh lease replaces it;
 *   - an answer with TTL ≤ 0 (the lease is gone) ends it (`session-expired`).
 *
 * etcd3's own `lost` event comes ~2 × TTL after the last good keepalive, long
 * after the server gave the lease away; we never wait for it.
 */
import { type Clock, type Logger, type SessionTelemetry } from '@elect/core';
import { Liveness } from '@elect/core/backend';
import type { Endpoints } from './endpoints.js';
import { isAuthTokenInvalid, isLeaseNotFound } from './errors.js';
import { KeepAliveStream, KeepAliveTimeout } from './keepalive-stream.js';
import { leaseHex } from './keys.js';
import { keepAliveIntervalMs } from './pacing.js';

export interface SessionTiming {
  ttlMs: number;
  /** The safety margin asked for (see `safetyMarginFor`). */
  safetyMarginMs: number | undefined;
  /** Upper bound for waiting on one keepalive answer. */
  operationTimeoutMs: number;
  clock: Clock;
  logger: Logger;
  telemetry: SessionTelemetry | undefined;
}

export class Session {
  readonly hex: string;
  readonly liveness: Liveness;
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
    this.liveness = new Liveness({
      timeoutMs: timing.ttlMs,
      safetyMarginMs: timing.safetyMarginMs,
      openedAt: grantedAt,
      clock: timing.clock,
      logger: timing.logger,
      label: { lease: this.hex },
      telemetry: timing.telemetry,
    });
    this.liveness.onStatus((status) => {
      if (status.kind !== 'ended') return;
      this.stream?.close();
      this.stream = undefined;
      this.wakeLoop();
    });
    void this.keepAlive();
  }

  get ended(): boolean {
    return this.liveness.isEnded;
  }

  /** Aborted when the session ends; `reason` is the `SessionEnd`. */
  get signal(): AbortSignal {
    return this.liveness.signal;
  }

  /** The server told us (another way) that the lease is gone. */
  expire(): void {
    this.liveness.end('session-expired');
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
          this.expire();
          break;
        }
        this.liveness.contact(sentAt);
        this.liveness.resume();
        this.liveness.answered(sentAt);
      } catch (error) {
        this.stream?.close();
        this.stream = undefined;
        if (this.ended) break;
        if (isLeaseNotFound(error)) {
          this.expire();
          break;
        }
        this.liveness.suspend(String(error));
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
