/**
 * The session slot: one session at a time per connection, replaced — never
 * revived — when it ends, for every backend.
 *
 * - `get()` answers the live session, or waits for the next one (opening it
 *   if nobody is: the first campaign opens a lazy connection's session);
 * - when a session ends for any reason but `closed`, the slot retires it
 *   (the backend's `retire`: a session given up at its deadline may still
 *   hold keys on the server, which must go so they don't block the queue)
 *   and opens a fresh one, retrying with backoff;
 * - an error the backend calls a refusal (`isRefusal`: retrying cannot
 *   help, e.g. permission denied) stops that attempt: every waiter rejects
 *   with it, and so does every `get()` for a pause after it (the backoff's,
 *   doubling while refusals follow each other); the first `get()` after the
 *   pause tries again. A caller that asks again at once (an observer
 *   re-subscribing in a loop) does not open a session on the server each
 *   time.
 *
 * The backend supplies `open` (and a session's own keepalive, which drives
 * its `Liveness`); the slot owns the waiting, the replacing and the order of
 * things at close.
 */
import type { Clock } from './clock.js';
import { abortReason, TimeoutError } from './errors.js';
import type { Liveness, SessionEnd, SessionStatus } from './liveness.js';
import type { Logger } from './logger.js';
import { Backoff, linkSignals } from './wait.js';

export interface SlotSession {
  readonly liveness: Liveness;
}

export interface SessionSlotOptions<S extends SlotSession> {
  /** Opens a fresh session. A rejection is retried with backoff, unless it is a refusal. */
  open(): Promise<S>;
  /** Cleans up after `session`, which ended for `reason` (never `closed`). The slot waits for it at close. */
  retire(session: S, reason: Exclude<SessionEnd, 'closed'>): Promise<void> | void;
  /** Gives up a session that opened after the slot closed. */
  discard(session: S): Promise<void>;
  /** True for an error retrying cannot fix. Default: none is. */
  isRefusal?(error: unknown): boolean;
  /** The pauses between attempts to open. */
  backoff: { initialMs?: number; maxMs: number };
  /** What the slot holds, for messages ("ZooKeeper session", "etcd lease"). */
  what: string;
  /** The error for calls after `close()`. */
  closed(): Error;
  clock: Clock;
  logger: Logger;
  /** Called when a session opens; `first` for the slot's first one. */
  opened?(session: S, first: boolean): void;
}

interface Waiter<S> {
  resolve(session: S): void;
  reject(error: unknown): void;
}

export class SessionSlot<S extends SlotSession> {
  private session: S | undefined;
  private readonly waiters = new Set<Waiter<S>>();
  private readonly background = new Set<Promise<void>>();
  private readonly closing = new AbortController();
  private opening: Promise<void> | undefined;
  private count = 0;
  /** The last refusal, and until when `get()` answers with it instead of trying again. */
  private refused: { error: unknown; until: number } | undefined;
  private readonly refusalPause: Backoff;

  constructor(private readonly options: SessionSlotOptions<S>) {
    this.refusalPause = new Backoff(options.backoff);
  }

  /** The live session, if there is one now. */
  get current(): S | undefined {
    const session = this.session;
    return session && !session.liveness.isEnded ? session : undefined;
  }

  get isClosed(): boolean {
    return this.closing.signal.aborted;
  }

  /**
   * The live session; while there is none, the next one. Rejects with the
   * slot's closed error after `close()`, with `signal`'s reason when it
   * aborts, with a `TimeoutError` after `timeoutMs` (on the injected clock),
   * or with a refusal that ended the attempt to open one.
   */
  get(signal?: AbortSignal, timeoutMs?: number): Promise<S> {
    if (this.isClosed) return Promise.reject(this.options.closed());
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const live = this.current;
    if (live) return Promise.resolve(live);
    const refused = this.refused;
    if (refused && !this.opening && this.options.clock.now() < refused.until) return Promise.reject(refused.error);
    this.replace();
    const { clock, what } = this.options;
    return new Promise<S>((resolve, reject) => {
      const timeout = new AbortController();
      // (AbortSignal.timeout would not follow an injected clock.)
      const cancelTimeout = timeoutMs === undefined ? () => {} : clock.schedule(() => timeout.abort(), timeoutMs);
      const { signal: stop, release } = linkSignals([this.closing.signal, signal, timeout.signal]);
      const settle = (): void => {
        cancelTimeout();
        stop.removeEventListener('abort', onAbort);
        release();
        this.waiters.delete(waiter);
      };
      const waiter: Waiter<S> = {
        resolve: (session) => {
          settle();
          resolve(session);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      };
      const onAbort = (): void => {
        if (this.isClosed) waiter.reject(this.options.closed());
        else if (signal?.aborted) waiter.reject(abortReason(signal));
        else waiter.reject(new TimeoutError(`no ${what} within ${Math.round(timeoutMs ?? 0)} ms`));
      };
      this.waiters.add(waiter);
      if (stop.aborted) onAbort();
      else stop.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Puts a session the backend opened itself (a connection's first) in the slot. */
  install(session: S): void {
    this.session = session;
    this.refused = undefined;
    this.refusalPause.reset();
    this.count += 1;
    this.options.opened?.(session, this.count === 1);
    const lost = (status: SessionStatus): void => {
      if (status.kind !== 'ended' || status.reason === 'closed') return;
      if (this.session === session) this.session = undefined;
      this.track(Promise.resolve(this.options.retire(session, status.reason)));
      this.replace();
    };
    // A session the backend opened itself may have ended while the backend
    // was still setting up (ZooKeeper: creating the chroot): no status
    // change is left to tell us, so it is retired and replaced now.
    const now = session.liveness.status;
    if (now.kind === 'ended' && now.reason !== 'closed') return lost(now);
    // Late: every leadership on the session is lost before it is retired and replaced.
    session.liveness.onStatus(lost, { late: true });
    for (const waiter of [...this.waiters]) waiter.resolve(session);
  }

  /**
   * Stops opening sessions and rejects every waiter. Returns the session in
   * the slot (if any) for the backend to close its own way; `settled()`
   * then waits for what is still under way.
   */
  close(): S | undefined {
    this.closing.abort();
    const session = this.session;
    this.session = undefined;
    for (const waiter of [...this.waiters]) waiter.reject(this.options.closed());
    return session;
  }

  /** Resolves once the retirements and the attempt to open in progress are over. */
  async settled(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  /** Starts opening a session, unless one is being opened. */
  private replace(): void {
    if (this.opening || this.isClosed) return;
    const opening = this.openLoop().finally(() => {
      if (this.opening === opening) this.opening = undefined;
    });
    this.opening = opening;
    this.track(opening);
  }

  private async openLoop(): Promise<void> {
    const { clock, logger, what } = this.options;
    const backoff = new Backoff(this.options.backoff);
    let failures = 0;
    while (!this.isClosed) {
      try {
        const session = await this.options.open();
        if (this.isClosed) return await this.options.discard(session);
        this.opening = undefined; // a session lost at once may open the next one
        this.install(session);
        return;
      } catch (error) {
        if (this.options.isRefusal?.(error)) {
          logger.warn({ event: 'session-refused', what, err: String(error) }, `the server refuses to open a ${what}`);
          this.opening = undefined;
          this.refused = { error, until: clock.now() + this.refusalPause.take() };
          for (const waiter of [...this.waiters]) waiter.reject(error);
          return;
        }
        // The first failure of a round is news; the retries of an outage are not.
        logger[failures++ === 0 ? 'warn' : 'debug']({ event: 'reconnect-failed', what, err: error }, `could not open a ${what}; retrying`);
      }
      if (!(await backoff.wait(clock, this.closing.signal).then(() => true, () => false))) return;
    }
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch(() => {});
    this.background.add(tracked);
    void tracked.finally(() => this.background.delete(tracked));
  }
}
