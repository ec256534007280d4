/**
 * The client side of the in-memory backend: one connection holds one session
 * at a time, heartbeats it, and keeps the session's loss deadline from the
 * last heartbeat the server acknowledged — exactly the bookkeeping a real
 * backend does, with the network replaced by a switch (`suspend()` /
 * `heal()`).
 *
 * While suspended nothing reaches the server and nothing comes back: requests
 * reject with a retryable `ConnectionError`, notifications are dropped. The
 * server expires the session `sessionTimeoutMs` after it last heard from us;
 * the client gives the session up earlier, at its own loss deadline
 * (`lastContact + sessionTimeoutMs − safetyMarginMs`), and on healing closes
 * that session (whatever is left of it) and opens a fresh one.
 */
import type { Clock } from '../clock.js';
import type { Election } from '../contract.js';
import { Liveness, type SessionEnd } from '../liveness.js';
import type { SessionTelemetry } from '../telemetry.js';
import { ClosedError, ConnectionError, abortReason } from '../errors.js';
import { Handles } from '../handles.js';
import { LogEvent, type Logger } from '../logger.js';
import { connectionSettings, type MemoryConnectionOptions } from './connection-options.js';
import { MemoryElection } from './election.js';
import type { ClientSession, ConnectionEvent, ConnectionLink } from './link.js';
import type { Sink, Store } from './store.js';

export type { ClientSession, ConnectionEvent } from './link.js';

/**
 * One client of a `MemoryServer`, with its own session: what a separate
 * process would have. Elections on it share that session. Made by
 * `MemoryServer#connect()`; members marked internal serve its elections.
 */
export class MemoryConnection implements ConnectionLink {
  readonly sessionTimeoutMs: number;
  readonly safetyMarginMs: number;
  readonly heartbeatIntervalMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  private readonly telemetry: SessionTelemetry | undefined;
  private current: ClientSession | undefined;
  /** Sessions given up at the deadline that the server may still hold: closed on the next contact. */
  private readonly abandoned = new Set<number>();
  private suspended = false;
  private closed = false;
  private readonly listeners = new Set<(event: ConnectionEvent) => void>();
  /** Its elections, held weakly (core's `Handles`): told of every event, closed with it. */
  private readonly elections = new Handles<MemoryElection>();
  private closing: Promise<void> | undefined;
  private cancelBeat: () => void = () => {};

  /** @internal Use `MemoryServer#connect()`. */
  constructor(
    private readonly store: Store,
    options: MemoryConnectionOptions = {},
  ) {
    const settings = connectionSettings(options, store.clock);
    this.sessionTimeoutMs = settings.sessionTimeoutMs;
    this.safetyMarginMs = settings.safetyMarginMs;
    this.heartbeatIntervalMs = settings.heartbeatIntervalMs;
    this.clock = settings.clock;
    this.logger = settings.logger;
    this.telemetry = settings.telemetry;
    this.open();
    this.cancelBeat = this.clock.schedule(this.beat, this.heartbeatIntervalMs);
  }

  /** The id of the live session, or undefined while there is none (lost and not yet replaced). */
  get sessionId(): number | undefined {
    return this.current?.id;
  }

  /** @internal The live session, if any. */
  get session(): ClientSession | undefined {
    return this.current;
  }

  /** True between `suspend()` and `heal()`. */
  get isSuspended(): boolean {
    return this.suspended;
  }

  /** True once `close()` was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * An election on this connection, honouring the `Election` contract.
   * Throws `InvalidOptionError` for a bad name (empty, longer than 1024
   * characters, line breaks or NUL) and `ClosedError` once the connection is
   * closed. While the connection is suspended, `leader()`, `candidates()` and
   * `proclaim()` reject with a retryable `ConnectionError`; campaigns and
   * observers wait for it to heal; `close()` and `resign()` resolve once the
   * entries are deleted or known to go with their session (at the latest at
   * the loss deadline). The connection holds it weakly: dropped with
   * nothing running on it, it is garbage like any object.
   */
  election(name: string): Election {
    if (this.closed) throw new ClosedError('the connection is closed');
    const election: MemoryElection = new MemoryElection(this, name, () => this.elections.delete(election));
    this.elections.add(election);
    return election;
  }

  /**
   * Fault: the network between this client and the server goes silent. The
   * client is not told; it notices when a heartbeat goes unanswered (events:
   * `suspended`), and gives leadership up at its loss deadline.
   */
  suspend(): void {
    if (!this.closed) this.suspended = true;
  }

  /**
   * Ends a suspension: the client reconnects at once, learns whether its
   * session survived (else it opens a new one; campaigns re-enter), and
   * re-reads everything it may have missed.
   */
  heal(): void {
    if (this.closed || !this.suspended) return;
    this.suspended = false;
    if (this.current) this.ping();
    else this.open();
    this.emit({ type: 'resync' });
  }

  /**
   * Fault: the server ends this connection's session now, as a session kill
   * or lease revoke would. The client hears of it at once unless suspended
   * (then on `heal()`).
   */
  expire(): void {
    if (this.current) this.store.endSession(this.current.id, true);
  }

  /**
   * Closes its elections, then the session (its entries go with it), and
   * stops heartbeats: leaderships on it end with reason `closed`, campaigns
   * reject with `ClosedError`, observers end. Idempotent. While suspended
   * the server is not told: the session then expires there after its
   * timeout.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    // Closed first: nothing more is sent, and the elections' entries go with the session below.
    this.closed = true;
    await Promise.allSettled(this.elections.live().map((election) => election.close()));
    this.cancelBeat();
    const session = this.current;
    this.current = undefined;
    session?.liveness.end('closed');
    this.emit({ type: 'closed' });
    this.listeners.clear();
    if (!this.suspended) {
      if (session) this.store.endSession(session.id, false);
      this.closeAbandoned();
    }
  }

  /** @internal Delivers a server notification unless the network is cut. */
  readonly deliver: Sink = (fn) => {
    if (this.suspended || this.closed) return;
    queueMicrotask(() => {
      if (!this.suspended && !this.closed) fn();
    });
  };

  /** @internal Subscribes to connection events; returns the unsubscribe function. */
  on(listener: (event: ConnectionEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** @internal One request: runs on the server now, its answer arrives asynchronously. */
  async call<T>(request: (store: Store) => T): Promise<T> {
    const result = this.callSync(request);
    await Promise.resolve();
    return result;
  }

  /** @internal A request whose answer is used at once (watch registration with its initial read). */
  callSync<T>(request: (store: Store) => T): T {
    if (this.closed) throw new ClosedError('the connection is closed');
    if (this.suspended) throw new ConnectionError('the server cannot be reached (connection suspended)');
    return request(this.store);
  }

  /** @internal Resolves with the next connection event; rejects when `stop` aborts. */
  nextEvent(stop?: AbortSignal): Promise<ConnectionEvent> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        off();
        reject(abortReason(stop as AbortSignal));
      };
      const off = this.on((event) => {
        off();
        stop?.removeEventListener('abort', onAbort);
        resolve(event);
      });
      if (stop?.aborted) onAbort();
      else stop?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** @internal A live session on a reachable server; waits for one. Rejects on close or when `stop` aborts. */
  async ready(stop: AbortSignal): Promise<ClientSession> {
    for (;;) {
      if (this.closed) throw new ClosedError('the connection is closed');
      if (stop.aborted) throw abortReason(stop);
      if (this.current && !this.suspended) return this.current;
      await this.nextEvent(stop);
    }
  }

  /** @internal The server answered that `session` is gone (e.g. a create was refused). */
  sessionExpired(session: ClientSession): void {
    session.liveness.end('session-expired');
  }

  private open(): void {
    this.closeAbandoned();
    const openedAt = this.clock.now();
    // The server's expiry callback needs the session, which needs the id.
    let expired = (): void => {};
    const id = this.store.openSession(this.sessionTimeoutMs, this.deliver, () => expired());
    const liveness = new Liveness({
      timeoutMs: this.sessionTimeoutMs,
      safetyMarginMs: this.safetyMarginMs,
      openedAt,
      clock: this.clock,
      logger: this.logger,
      label: { session: id.toString(16) },
      telemetry: this.telemetry,
    });
    const session: ClientSession = { id, liveness };
    expired = () => liveness.end('session-expired');
    // Late: the leaderships on this session are lost before it is replaced.
    liveness.onStatus(
      (status) => {
        if (status.kind === 'ended' && status.reason !== 'closed') this.lose(session, status.reason);
      },
      { late: true },
    );
    this.current = session;
    this.logger.info({ event: LogEvent.Connected, session: id.toString(16) }, 'session opened');
    this.emit({ type: 'session' });
  }

  private readonly beat = (): void => {
    if (this.closed) return;
    this.cancelBeat = this.clock.schedule(this.beat, this.heartbeatIntervalMs);
    if (this.suspended) {
      // This heartbeat goes unanswered: the client now knows something is wrong.
      const liveness = this.current?.liveness;
      if (liveness?.status.kind === 'live') {
        liveness.suspend('no answer');
        this.emit({ type: 'suspended', deadline: liveness.deadline.deadline });
      }
      return;
    }
    if (this.current) this.ping();
    else this.open();
  };

  private ping(): void {
    const session = this.current;
    if (!session) return;
    const sentAt = this.clock.now();
    if (!this.store.touch(session.id)) {
      session.liveness.end('session-expired');
      return;
    }
    session.liveness.contact(sentAt);
    session.liveness.answered(sentAt);
    if (session.liveness.status.kind === 'suspended') {
      session.liveness.resume();
      this.emit({ type: 'resumed' });
    }
  }

  /** `session` ended on its own (its `Liveness` decided): replace it. */
  private lose(session: ClientSession, reason: Exclude<SessionEnd, 'closed'>): void {
    if (this.current === session) this.current = undefined;
    // Given up on our own clock: the server may still hold it until it expires.
    if (reason === 'deadline') this.abandoned.add(session.id);
    this.emit({ type: 'session-lost' });
    if (!this.suspended && !this.closed && !this.current) this.open();
  }

  private closeAbandoned(): void {
    for (const id of this.abandoned) this.store.endSession(id, false);
    this.abandoned.clear();
  }

  private emit(event: ConnectionEvent): void {
    for (const election of this.elections.live()) election.onConnection(event);
    for (const listener of [...this.listeners]) listener(event);
  }
}
