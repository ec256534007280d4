/**
 * A connection to a ZooKeeper ensemble: one session at a time, replaced by a
 * fresh one whenever it ends (server said expired, or our loss deadline
 * passed first). Many elections and candidates share it.
 *
 * Retiring a session whose deadline passed: the server may still think it is
 * alive (we lost contact; the server did not, or it was paused itself). Its
 * ephemeral nodes would then linger for up to a session timeout, and a node
 * that was first in some queue would hold that election hostage even though
 * our leadership already ended. So we end that session ourselves: re-attach
 * with its id and password and close it, which deletes its nodes at once —
 * or learn that the server already expired it. We retry until one of the two
 * happens (or this connection closes). Safety never depends on it: leadership
 * was already given up at the deadline, and our fresh candidates queue behind
 * the stale node, never in front of it.
 */
import { abortReason, ClosedError, ConnectionError, type Election, SessionExpiredError, TimeoutError, Backoff } from '@elect/core';
import { ZkClient } from './client.js';
import { ZooKeeperElection, type ZooKeeperElectionOptions } from './election.js';
import { ZkCode, isZk } from './errors.js';
import { latchPath } from './names.js';
import { resolveOptions, type ResolvedOptions, type ZooKeeperConnectionOptions } from './options.js';
import { Session, type SessionOptions, type SessionStatus } from './session.js';
import type { SessionSource } from './source.js';

export class ZooKeeperConnection implements SessionSource, AsyncDisposable {
  readonly options: ResolvedOptions;
  private session_: Session | undefined;
  private waiters = new Set<{ resolve: (session: Session) => void }>();
  private readonly statusListeners = new Set<(status: SessionStatus, session: Session) => void>();
  private readonly elections = new Set<ZooKeeperElection>();
  private readonly background = new Set<Promise<void>>();
  private readonly closing = new AbortController();
  private closed: Promise<void> | undefined;
  private lastSessionId = '';

  private constructor(options: ResolvedOptions) {
    this.options = options;
  }

  /** See `connectZooKeeper`. */
  static async connect(input: ZooKeeperConnectionOptions): Promise<ZooKeeperConnection> {
    const connection = new ZooKeeperConnection(resolveOptions(input));
    const session = await Session.open(connection.sessionOptions());
    try {
      await connection.ensureChroot(session);
    } catch (error) {
      session.end('closed');
      await session.client.close();
      throw error;
    }
    connection.install(session);
    return connection;
  }

  /** The current session id in hex (`0x…`), for diagnostics; the last one while a new session is opening. */
  get sessionId(): string {
    return this.lastSessionId;
  }

  /** @internal The session in use (tests reach the library client through it). */
  get current(): Session | undefined {
    return this.session_;
  }

  /**
   * An election on this connection. `name` is a latch path (`/services/x/leader`,
   * what a Curator user passes to LeaderLatch) or a bare name (`billing` →
   * `/elect/billing`). Throws `InvalidOptionError` for an invalid name or
   * `ClosedError` after close; nothing is written until it is used.
   */
  election(name: string, options: ZooKeeperElectionOptions = {}): Election {
    if (this.closing.signal.aborted) throw new ClosedError('the ZooKeeper connection is closed');
    const election = new ZooKeeperElection(this, name, latchPath(name), options, () => this.elections.delete(election));
    this.elections.add(election);
    return election;
  }

  session(signal?: AbortSignal, timeoutMs?: number): Promise<Session> {
    const live = this.session_;
    if (this.closing.signal.aborted) return Promise.reject(new ClosedError('the ZooKeeper connection is closed'));
    if (live && !live.isEnded) return Promise.resolve(live);
    // The timeout runs on the injected clock (AbortSignal.timeout would not,
    // and throws on the fractional times that clock's arithmetic gives).
    const timeout = new AbortController();
    const cancelTimeout = timeoutMs === undefined ? () => {} : this.options.clock.schedule(() => timeout.abort(), timeoutMs);
    const stop = AbortSignal.any([this.closing.signal, ...(signal ? [signal] : []), timeout.signal]);
    return new Promise<Session>((resolve, reject) => {
      const waiter = {
        resolve: (session: Session) => {
          cancelTimeout();
          stop.removeEventListener('abort', onAbort);
          resolve(session);
        },
      };
      const onAbort = (): void => {
        cancelTimeout();
        this.waiters.delete(waiter);
        if (this.closing.signal.aborted) reject(new ClosedError('the ZooKeeper connection is closed'));
        else if (signal?.aborted) reject(abortReason(signal));
        else reject(new TimeoutError(`no ZooKeeper session within ${Math.round(timeoutMs ?? 0)} ms`));
      };
      this.waiters.add(waiter);
      if (stop.aborted) onAbort();
      else stop.addEventListener('abort', onAbort, { once: true });
    });
  }

  onStatus(listener: (status: SessionStatus, session: Session) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  /**
   * Closes every election of this connection (deleting what they created),
   * then the session. Idempotent.
   */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async shutdown(): Promise<void> {
    await Promise.allSettled([...this.elections].map((election) => election.close()));
    this.closing.abort(new ClosedError('the ZooKeeper connection is closed'));
    const session = this.session_;
    if (session) {
      session.end('closed');
      await session.client.close();
    }
    await Promise.allSettled([...this.background]);
  }

  private sessionOptions(): SessionOptions {
    const { connectString, sessionTimeoutMs, connectTimeoutMs, operationTimeoutMs, auth, clock, logger, safetyMarginMs } = this.options;
    return { connectString, sessionTimeoutMs, connectTimeoutMs, operationTimeoutMs, auth, clock, logger, safetyMarginMs };
  }

  private install(session: Session): void {
    this.session_ = session;
    this.lastSessionId = session.id;
    this.options.logger.info({ event: 'connected', session: session.id, timeoutMs: session.client.negotiatedTimeoutMs });
    session.onStatus((status) => {
      for (const listener of [...this.statusListeners]) listener(status, session);
      if (status.kind !== 'ended' || status.reason === 'closed') return;
      if (this.session_ === session) this.session_ = undefined;
      session.client.destroy();
      if (status.reason === 'deadline') {
        const cleanup = this.closeStale(session);
        session.retire(cleanup);
        this.track(cleanup);
      }
      this.track(this.reopen());
    });
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const waiter of waiters) waiter.resolve(session);
  }

  /** Opens a fresh session, retrying until one opens or the connection closes. */
  private async reopen(): Promise<void> {
    const backoff = new Backoff({ maxMs: Math.max(100, Math.min(2000, this.options.sessionTimeoutMs / 4)) });
    while (!this.closing.signal.aborted) {
      try {
        const session = await Session.open(this.sessionOptions());
        if (this.closing.signal.aborted) {
          session.end('closed');
          await session.client.close();
          return;
        }
        this.install(session);
        return;
      } catch (error) {
        this.options.logger.warn({ event: 'reconnect-failed', err: error });
        await backoff.wait(this.options.clock, this.closing.signal).catch(() => {});
      }
    }
  }

  /**
   * Ends a session whose deadline passed (see the file comment). Re-attaching
   * refreshes the session on the server, so we keep trying only until the
   * server would have expired it by itself (one granted timeout after our
   * last contact); after that it is left to expire, within one timeout of our
   * last attempt. The log says which of the three happened.
   */
  private async closeStale(stale: Session): Promise<void> {
    const id = stale.client.sessionIdBytes;
    const password = stale.client.sessionPassword;
    const { clock, logger } = this.options;
    const timeoutMs = stale.deadline.timeoutMs;
    const until = stale.deadline.lastContact + timeoutMs;
    const backoff = new Backoff({ maxMs: Math.max(100, Math.min(2000, this.options.sessionTimeoutMs / 4)) });
    for (;;) {
      try {
        const client = await ZkClient.connect({ ...this.sessionOptions(), session: { id, password } });
        if (await client.close()) {
          logger.info({ event: 'stale-session-closed', session: stale.id });
          return;
        }
        // No answer to the close: it may have landed or not. Another
        // re-attach finds out ("gone") or closes it.
      } catch (error) {
        if (error instanceof SessionExpiredError || isZk(error, ZkCode.SessionExpired)) {
          logger.info({ event: 'stale-session-gone', session: stale.id });
          return;
        }
      }
      if (this.closing.signal.aborted || clock.now() >= until) {
        logger.warn({ event: 'stale-session-abandoned', session: stale.id, expiresWithinMs: timeoutMs });
        return;
      }
      await backoff.wait(clock, this.closing.signal).catch(() => {});
    }
  }

  /** With a chroot, the server needs the chroot node to exist: create it (outside the chroot) if missing. */
  private async ensureChroot(session: Session): Promise<void> {
    const { chroot, servers, acl } = this.options;
    if (chroot === undefined || (await session.client.exists('/')) !== null) return;
    const client = await ZkClient.connect({ ...this.sessionOptions(), connectString: servers });
    try {
      let path = '';
      for (const segment of chroot.slice(1).split('/')) {
        path += `/${segment}`;
        await client.create(path, Buffer.alloc(0), acl, 0).catch((error: unknown) => {
          if (!isZk(error, ZkCode.NodeExists)) throw new ConnectionError(`cannot create the chroot ${chroot}`, { cause: error });
        });
      }
    } finally {
      await client.close();
    }
  }

  private track(work: Promise<void>): void {
    this.background.add(work);
    void work.finally(() => this.background.delete(work));
  }
}

/**
 * Connects to ZooKeeper. Resolves once a session is open; rejects with
 * `InvalidOptionError` for bad options (nothing is sent), with
 * `ConnectionError` when no server answers within `connectTimeoutMs`.
 * The session is then kept by the connection: when it is lost, a fresh one
 * replaces it until `close()`.
 */
export function connectZooKeeper(options: ZooKeeperConnectionOptions): Promise<ZooKeeperConnection> {
  return ZooKeeperConnection.connect(options);
}
