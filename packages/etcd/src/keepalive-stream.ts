/**
 * One LeaseKeepAlive stream with at most one request in flight, so every
 * answer belongs to exactly one request and we know when that request was
 * sent: the loss deadline may only move forward to a *send* time whose answer
 * arrived (the server renewed the lease no earlier than that).
 */
import type { Clock } from '@elect/core';
import type { MemberClient, TypedStream } from './wire/client.js';
import type { LeaseKeepAliveResponse } from './wire/messages.js';

type Stream = TypedStream<{ ID: string }, LeaseKeepAliveResponse>;

export class KeepAliveTimeout extends Error {
  override name = 'KeepAliveTimeout';
}

export class KeepAliveStream {
  private pending: { resolve: (ttl: number) => void; reject: (error: unknown) => void } | undefined;
  private failure: unknown;

  private constructor(private readonly stream: Stream) {
    stream.onMessage((res) => this.settle(undefined, Number(res.TTL)));
    stream.onEnd((error) => this.settle(error ?? new Error('keepalive stream ended')));
  }

  /** Opens a stream on `client`, giving up after `timeoutMs` (opening may wait for an auth token). */
  static async open(client: MemberClient, clock: Clock, timeoutMs: number): Promise<KeepAliveStream> {
    const opening = client.leaseKeepAlive();
    try {
      return new KeepAliveStream(await withTimeout(opening, clock, timeoutMs, 'opening a keepalive stream'));
    } catch (error) {
      // Don't leave a stream behind that opens after we gave up on it.
      opening.then((late) => new KeepAliveStream(late).close(), () => {});
      throw error;
    }
  }

  /**
   * Sends one keepalive and resolves with the TTL the server answered (≤ 0:
   * the lease is gone). Rejects on a stream error or after `timeoutMs`
   * without an answer; the stream is then unusable.
   */
  ping(leaseId: string, clock: Clock, timeoutMs: number): Promise<number> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.pending) return Promise.reject(new Error('a keepalive is already in flight'));
    const answer = new Promise<number>((resolve, reject) => {
      this.pending = { resolve, reject };
    });
    this.stream.write({ ID: leaseId });
    return withTimeout(answer, clock, timeoutMs, 'keepalive');
  }

  close(): void {
    this.settle(new Error('keepalive stream closed'));
    this.stream.cancel();
  }

  private settle(error: unknown, ttl?: number): void {
    const pending = this.pending;
    this.pending = undefined;
    if (error !== undefined) this.failure ??= error;
    if (!pending) return;
    if (error !== undefined) pending.reject(error);
    else pending.resolve(ttl ?? 0);
  }
}

async function withTimeout<T>(promise: Promise<T>, clock: Clock, ms: number, what: string): Promise<T> {
  let cancel = (): void => {};
  const timeout = new Promise<never>((_, reject) => {
    cancel = clock.schedule(() => reject(new KeepAliveTimeout(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    cancel();
  }
}
