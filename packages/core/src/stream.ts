/**
 * Push-to-pull plumbing for `observe()` and `events()`: a buffered channel
 * with one consumer, ended by close, by failure (the consumer's loop throws —
 * never a silent end), or by the consumer's AbortSignal.
 */
import type { CandidateInfo } from './contract.js';

export interface ChannelOptions<T = unknown> {
  /** Ends the iteration (without error) when aborted. */
  signal?: AbortSignal | undefined;
  /**
   * Called once, with the channel, when it ends for any reason (release
   * watches here). With an already-aborted signal that is inside the
   * constructor: use the argument, not a variable the constructor assigns.
   */
  onEnd?: (channel: Channel<T>) => void;
}

export class Channel<T> implements AsyncIterable<T> {
  private readonly buffer: T[] = [];
  // Pending next() calls, oldest first: a consumer may call next() again
  // before the previous one settled, and neither call may be lost.
  private readonly waiters: { resolve: (result: IteratorResult<T>) => void; reject: (error: unknown) => void }[] = [];
  private ended = false;
  private error: { value: unknown } | undefined;
  private readonly onEnd: ((channel: Channel<T>) => void) | undefined;
  private readonly signal: AbortSignal | undefined;
  private readonly abortListener = (): void => this.close();

  constructor(options: ChannelOptions<T> = {}) {
    this.onEnd = options.onEnd;
    this.signal = options.signal;
    if (this.signal?.aborted) this.close();
    else this.signal?.addEventListener('abort', this.abortListener, { once: true });
  }

  get isEnded(): boolean {
    return this.ended;
  }

  push(value: T): void {
    if (this.ended) return;
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve({ value, done: false });
    else this.buffer.push(value);
  }

  /** Ends the stream after what is buffered. */
  close(): void {
    this.finish(undefined);
  }

  /** The consumer gets what is buffered, then `error` is thrown from its loop. */
  fail(error: unknown): void {
    this.finish({ value: error });
  }

  private finish(error: { value: unknown } | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.error = error;
    this.signal?.removeEventListener('abort', this.abortListener);
    this.onEnd?.(this);
    // Waiters exist only when the buffer is empty: the first one gets the
    // error (once), the rest see the end.
    for (const waiter of this.waiters.splice(0)) {
      if (this.error) {
        const { value } = this.error;
        this.error = undefined;
        waiter.reject(value);
      } else {
        waiter.resolve({ value: undefined, done: true });
      }
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.buffer.length > 0) return Promise.resolve({ value: this.buffer.shift() as T, done: false });
        if (this.ended) {
          if (this.error) {
            const { value } = this.error;
            this.error = undefined;
            return Promise.reject(value);
          }
          return Promise.resolve({ value: undefined, done: true });
        }
        return new Promise<IteratorResult<T>>((resolve, reject) => {
          this.waiters.push({ resolve, reject });
        });
      },
      return: () => {
        this.buffer.length = 0;
        this.error = undefined;
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

/** Fan-out of one event source to any number of channels. */
export class Hub<T> {
  private readonly channels = new Set<Channel<T>>();

  /** `onIdle` is called each time the last channel ends. */
  constructor(private readonly options: { onIdle?: () => void } = {}) {}

  subscribe(signal?: AbortSignal): Channel<T> {
    const onEnd = (ended: Channel<T>): void => {
      if (this.channels.delete(ended) && this.channels.size === 0) this.options.onIdle?.();
    };
    const channel = new Channel<T>({ signal, onEnd });
    if (!channel.isEnded) this.channels.add(channel);
    return channel;
  }

  get size(): number {
    return this.channels.size;
  }

  emit(value: T): void {
    for (const channel of this.channels) channel.push(value);
  }

  close(): void {
    for (const channel of [...this.channels]) channel.close();
  }

  fail(error: unknown): void {
    for (const channel of [...this.channels]) channel.fail(error);
  }
}

/** True when two leader readings describe the same leader with the same value. */
export function sameLeader(a: CandidateInfo | undefined, b: CandidateInfo | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.key === b.key && a.token === b.token && a.value === b.value && a.id === b.id;
}
