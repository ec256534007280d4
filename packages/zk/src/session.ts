/**
 * One ZooKeeper session as we judge it on our own clock.
 *
 * The library says "connected" to a server that is SIGSTOPped, and says
 * "expired" only after it reconnects. So a session runs its own heartbeat and
 * feeds core's LossDeadline from it. Only the quorum leader expires sessions,
 * so only contact the leader has provably seen may move the deadline (the
 * zk README's safety section has the whole argument):
 *
 * - The heartbeat is a write-path no-op, a `check` of `/` at any version in a
 *   multi. A follower answers reads from its own copy for a while after it
 *   lost the quorum; a write it can only answer after the leader committed
 *   it, and the leader refuses it once our session has expired.
 * - A follower tells the leader about our session's activity in its answer
 *   to the leader's next ping (every tickTime / 2), not with the request. A
 *   committed heartbeat proves the leader has heard that answer for every
 *   earlier heartbeat answered at least `relayMs` (one leader ping interval)
 *   before it was sent: the follower's link carries them in order. So an
 *   answered heartbeat credits the *send* time of the newest such earlier
 *   one. Assumes tickTime ≤ timeout / 2 (ZooKeeper's default
 *   minSessionTimeout), so that relayMs = timeout / 4 spans a ping interval.
 *   Only heartbeats answered over one connection count together: after a
 *   reconnect (to this member or another) the list starts again.
 * - The server re-negotiates the timeout on every reconnect: the deadline
 *   follows it down (never up).
 *
 * The states and the deadline are core's `Liveness`; this file supplies the
 * heartbeat. `suspended` when the library reports a disconnect or a
 * heartbeat goes unanswered for `timeout / 6`; `live` again when a heartbeat
 * is answered on a connected link; `ended` when the server says expired,
 * when the deadline passes first, or on close. An ended session is never
 * used again: the connection opens a fresh one. While a heartbeat stays
 * unanswered we also drop the TCP connection `timeout / 3` after sending it
 * (and every `timeout / 3` after that) so the library retries — another
 * server of the ensemble, or the same one once it answers; it never would on
 * its own.
 */
import { type Clock, type Logger, type SessionTelemetry } from '@elect/core';
import { Liveness } from '@elect/core/backend';
import { ZkClient, type ClientOptions } from './client.js';
import { pacing } from './pacing.js';
import { ZkCode, zkCode } from './errors.js';

export interface SessionOptions extends ClientOptions {
  safetyMarginMs: number | undefined;
  logger: Logger;
  clock: Clock;
  telemetry: SessionTelemetry | undefined;
}

export class Session {
  readonly client: ZkClient;
  readonly liveness: Liveness;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private intervalMs = 0;
  private relayMs = 0;
  private silenceMs = 0;
  private kickMs = 0;
  private inflight: number | undefined;
  /** Answered heartbeats the leader may not have heard of yet (see the file comment). */
  private readonly unrelayed: Array<{ sentAt: number; answeredAt: number }> = [];
  private cancelTick: () => void = () => {};
  private retirement: Promise<void> | undefined;
  /** The heartbeat was refused (no READ on `/`) and the log said so. */
  private refusalLogged = false;
  /** The heartbeat runs (see `start`). */
  private started = false;

  private constructor(client: ZkClient, openedAt: number, options: SessionOptions) {
    this.client = client;
    this.clock = options.clock;
    this.logger = options.logger;
    // The session was created by the quorum leader, with a whole timeout
    // from when it received our request: the moment we sent it is safe.
    this.liveness = new Liveness({
      timeoutMs: client.negotiatedTimeoutMs,
      safetyMarginMs: options.safetyMarginMs,
      openedAt,
      clock: this.clock,
      logger: this.logger,
      label: { session: client.sessionId },
      telemetry: options.telemetry,
    });
    this.pace(client.negotiatedTimeoutMs);
    const unsubscribe = client.onState((state) => {
      if (state === 'disconnected') this.liveness.suspend('disconnected');
      else if (state === 'connected') {
        // A new link: what the old one relayed proves nothing about this one.
        this.unrelayed.length = 0;
        this.liveness.follow(client.negotiatedTimeoutMs);
        this.pace(this.liveness.deadline.timeoutMs);
        this.beat();
      } else this.liveness.end('session-expired');
    });
    this.liveness.onStatus((status) => {
      if (status.kind !== 'ended') return;
      this.cancelTick();
      unsubscribe();
    });
  }

  /** Starts the heartbeat (after `open`'s `prepare`: each one checks the chroot it makes). */
  private start(): void {
    this.started = true;
    this.tick();
  }

  private pace(timeoutMs: number): void {
    ({ intervalMs: this.intervalMs, relayMs: this.relayMs, silenceMs: this.silenceMs, kickMs: this.kickMs } = pacing(timeoutMs));
  }

  /**
   * Heartbeat sent at `sentAt` was committed: credit the newest earlier one
   * that the leader has provably heard of (see the file comment).
   */
  private credit(sentAt: number, answeredAt: number): void {
    let relayed: number | undefined;
    while (this.unrelayed.length > 0 && this.unrelayed[0]!.answeredAt + this.relayMs <= sentAt) {
      relayed = this.unrelayed.shift()!.sentAt;
    }
    this.unrelayed.push({ sentAt, answeredAt });
    if (relayed !== undefined) this.liveness.contact(relayed);
  }

  /**
   * Opens a new session; see `ZkClient.connect` for how it fails. `prepare`
   * runs on the connected client before the first heartbeat (making the
   * chroot every heartbeat checks); if it rejects, the client is closed.
   */
  static async open(options: SessionOptions, prepare?: (client: ZkClient) => Promise<void>): Promise<Session> {
    // The server starts the session's clock when it receives our request, so
    // the moment before we send it is a safe first contact.
    const sentAt = options.clock.now();
    const client = await ZkClient.connect(options);
    // Following the client's states already (a reconnect re-negotiates the
    // timeout; the server may say expired), but not heartbeating yet.
    const session = new Session(client, sentAt, options);
    try {
      await prepare?.(client);
    } catch (error) {
      session.liveness.end('closed');
      await client.close();
      throw error;
    }
    session.start();
    return session;
  }

  get id(): string {
    return this.client.sessionId;
  }

  get isEnded(): boolean {
    return this.liveness.isEnded;
  }

  /**
   * After the session ended: resolves once whatever it left on the server is
   * gone (see ZooKeeperConnection.closeStale), or at once when there is
   * nothing to wait for.
   */
  get retired(): Promise<void> {
    return this.retirement ?? Promise.resolve();
  }

  /** The connection tells how the ended session is being cleaned up. */
  retire(cleanup: Promise<void>): void {
    this.retirement = cleanup;
  }

  /** The heartbeat loop: a request every interval, unless one is still unanswered. */
  private tick(): void {
    if (this.isEnded) return;
    this.beat();
    this.cancelTick = this.clock.schedule(() => this.tick(), this.intervalMs);
  }

  private beat(): void {
    if (!this.started || this.isEnded || this.inflight !== undefined) return;
    const sentAt = this.clock.now();
    this.inflight = sentAt;
    const stopWatchdog = this.watchdog(sentAt);
    const settle = (): boolean => {
      stopWatchdog();
      if (this.inflight !== sentAt) return false;
      this.inflight = undefined;
      return !this.isEnded;
    };
    this.client.heartbeat().then(
      () => {
        if (!settle()) return;
        this.credit(sentAt, this.clock.now());
        this.liveness.answered(sentAt);
        if (this.client.isConnected) this.liveness.resume();
      },
      (error: unknown) => {
        if (!settle()) return;
        const code = zkCode(error);
        if (code === ZkCode.SessionExpired) return this.liveness.end('session-expired');
        if (code === ZkCode.NoAuth && !this.refusalLogged) {
          // Connecting checked READ on `/`; someone has taken it away since.
          this.refusalLogged = true;
          this.logger.error(
            { event: 'heartbeat-refused', session: this.id, err: error },
            'ZooKeeper refuses the heartbeat (a check of /) to these credentials: READ on / of the chroot was taken away. ' +
              'No session can keep its deadline ahead without it: each one is lost at its deadline until READ is given back',
          );
        }
        this.liveness.suspend(code === ZkCode.NoAuth ? 'heartbeat refused' : 'heartbeat failed');
        // Keep a request (and so the watchdog) going while the library
        // reconnects; beat() does nothing once the session has ended.
        this.clock.schedule(() => this.beat(), Math.min(this.intervalMs, 100));
      },
    );
  }

  /**
   * Watches the heartbeat sent at `sentAt`, to the millisecond rather than at
   * the next tick: unanswered after `silenceMs` → suspended; after every
   * further `kickMs` → drop the connection so the library tries again.
   */
  private watchdog(sentAt: number): () => void {
    let cancel = this.clock.schedule(() => {
      if (this.inflight !== sentAt || this.isEnded) return;
      this.liveness.suspend('no answer');
      const kick = (): void => {
        if (this.inflight !== sentAt || this.isEnded) return;
        this.logger.debug({ event: 'kick', session: this.id, silentMs: Math.round(this.clock.now() - sentAt) });
        this.client.kick();
        cancel = this.clock.schedule(kick, this.kickMs);
      };
      cancel = this.clock.schedule(kick, Math.max(0, this.kickMs - this.silenceMs));
    }, this.silenceMs);
    return () => cancel();
  }
}
