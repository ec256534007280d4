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
import { ClosedError, ConnectionError, type Election, PermissionDeniedError, SessionExpiredError, Backoff } from '@elect/core';
import { Handles, SessionSlot } from '@elect/core/backend';
import { ZkClient } from './client.js';
import { ZooKeeperElection, type ZooKeeperElectionOptions } from './election.js';
import { ZkCode, isZk } from './errors.js';
import { latchPath } from './names.js';
import { openAcl, resolveOptions, type ResolvedOptions, type ZooKeeperConnectionOptions } from './options.js';
import { Session, type SessionOptions } from './session.js';
import type { SessionSource } from './source.js';

export class ZooKeeperConnection implements SessionSource, AsyncDisposable {
  readonly options: ResolvedOptions;
  private readonly slot: SessionSlot<Session>;
  private readonly elections = new Handles<ZooKeeperElection>();
  private readonly closing = new AbortController();
  private closed: Promise<void> | undefined;
  private lastSessionId = '';

  private constructor(options: ResolvedOptions) {
    this.options = options;
    const backoff = { maxMs: Math.max(100, Math.min(2000, options.sessionTimeoutMs / 4)) };
    this.slot = new SessionSlot<Session>({
      open: () => Session.open(this.sessionOptions()),
      retire: (session, reason) => {
        session.client.destroy();
        if (reason === 'deadline') session.retire(this.closeStale(session));
        return session.retired;
      },
      discard: async (session) => {
        session.liveness.end('closed');
        await session.client.close();
      },
      // Refused for our credentials (no READ on the chroot, which every
      // heartbeat reads): a retry would be refused too. Whatever waits for
      // this session rejects with it, and so does whatever asks for a pause
      // after it (see core's SessionSlot); then the next one tries again.
      isRefusal: (error) => error instanceof PermissionDeniedError,
      backoff,
      what: 'ZooKeeper session',
      closed: () => new ClosedError('the ZooKeeper connection is closed'),
      clock: options.clock,
      logger: options.logger,
      opened: (session) => {
        this.lastSessionId = session.id;
        options.logger.info({ event: 'connected', session: session.id, timeoutMs: session.client.negotiatedTimeoutMs });
      },
    });
  }

  /** See `connectZooKeeper`. */
  static async connect(input: ZooKeeperConnectionOptions): Promise<ZooKeeperConnection> {
    const connection = new ZooKeeperConnection(resolveOptions(input));
    const session = await Session.open(connection.sessionOptions(), (client) => connection.ensureChroot(client));
    connection.slot.install(session);
    return connection;
  }

  /** The current session id in hex (`0x…`), for diagnostics; the last one while a new session is opening. */
  get sessionId(): string {
    return this.lastSessionId;
  }

  /** @internal The session in use (tests reach the library client through it). */
  get current(): Session | undefined {
    return this.slot.current;
  }

  /**
   * An election on this connection. `name` is a latch path (`/services/x/leader`,
   * what a Curator user passes to LeaderLatch) or a bare name (`billing` →
   * `/elect/billing`). Throws `InvalidOptionError` for an invalid name or
   * `ClosedError` after close; nothing is written until it is used. The
   * connection holds it weakly (core's `Handles`): dropped with nothing
   * running on it, it is garbage like any object.
   */
  election(name: string, options: ZooKeeperElectionOptions = {}): Election {
    if (this.closing.signal.aborted) throw new ClosedError('the ZooKeeper connection is closed');
    const election = new ZooKeeperElection(this, name, latchPath(name), options, () => this.elections.delete(election));
    this.elections.add(election);
    return election;
  }

  session(signal?: AbortSignal, timeoutMs?: number): Promise<Session> {
    return this.slot.get(signal, timeoutMs);
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
    await Promise.allSettled(this.elections.live().map((election) => election.close()));
    this.closing.abort(new ClosedError('the ZooKeeper connection is closed'));
    const session = this.slot.close();
    if (session) {
      session.liveness.end('closed');
      await session.client.close();
    }
    await this.slot.settled();
  }

  private sessionOptions(): SessionOptions {
    const { connectString, sessionTimeoutMs, connectTimeoutMs, operationTimeoutMs, auth, clock, logger, safetyMarginMs, telemetry } = this.options;
    return { connectString, sessionTimeoutMs, connectTimeoutMs, operationTimeoutMs, auth, clock, logger, safetyMarginMs, telemetry };
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
    const { timeoutMs, lastContact } = stale.liveness.deadline;
    const until = lastContact + timeoutMs;
    const backoff = new Backoff({ maxMs: Math.max(100, Math.min(2000, this.options.sessionTimeoutMs / 4)) });
    for (;;) {
      try {
        const client = await ZkClient.connect({ ...this.sessionOptions(), session: { id, password }, readsRoot: false });
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
  private async ensureChroot(client: ZkClient): Promise<void> {
    const { chroot, servers, acl } = this.options;
    if (chroot === undefined || (await client.exists('/')) !== null) return;
    const maker = await ZkClient.connect({ ...this.sessionOptions(), connectString: servers, readsRoot: false });
    const made: string[] = [];
    try {
      let path = '';
      for (const segment of chroot.slice(1).split('/')) {
        path += `/${segment}`;
        // The chroot gets the ACL; parents made on the way stay open (see the `acl` option).
        const created = await maker.create(path, Buffer.alloc(0), path === chroot ? acl : openAcl, 0).catch((error: unknown) => {
          if (isZk(error, ZkCode.NodeExists)) return undefined;
          if (isZk(error, ZkCode.InvalidAcl)) throw error;
          if (isZk(error, ZkCode.NoAuth)) {
            throw new PermissionDeniedError(`cannot create the chroot ${chroot}: ZooKeeper refused ${path} (NO_AUTH) to these credentials`, { cause: error });
          }
          throw new ConnectionError(`cannot create the chroot ${chroot}`, { cause: error });
        });
        if (created !== undefined) made.push(path);
      }
    } catch (error) {
      // Refused part way: the parents made for it go again (unless someone uses them by now).
      for (const path of made.reverse()) await maker.remove(path).catch(() => {});
      throw error;
    } finally {
      await maker.close();
    }
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
