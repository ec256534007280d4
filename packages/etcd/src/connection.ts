/**
 * `connectEtcd`: members, one session (lease) at a time, and the elections
 * that share them.
 *
 * Connecting only checks that a member answers (and takes our credentials):
 * reads, observers and events need no lease. The first campaign opens the
 * session. It is replaced, never revived: when it ends (loss deadline, lease
 * gone) a fresh lease is granted in the background, campaigns still waiting
 * join again on it, and leaderships on the old one stay lost. A lease given up
 * at its deadline may still exist on the server; the reaper revokes it so its
 * keys don't block the queue until the TTL runs out.
 */
import { ClosedError, ConnectionError, type Election, Backoff, sleep, within } from '@elect/core';
import { Handles, LogEvent, SessionSlot } from '@elect/core/backend';
import type { Candidate } from './candidate.js';
import { EtcdElection, type ConnectionCore, type EtcdElectionOptions } from './election.js';
import { holdProcess } from './hold.js';
import { Endpoints } from './endpoints.js';
import { isRefusal, isTransient } from './errors.js';
import { KeySpace } from './keys.js';
import { LeaseReaper, grantOnce, revokeOnce } from './lease.js';
import { resolveOptions, type EtcdConnectionOptions, type ResolvedOptions } from './options.js';
import { Session } from './session.js';

export interface EtcdConnection extends AsyncDisposable {
  /**
   * The current lease id in lowercase hex (the `<lease hex>` of our keys); it
   * changes when a lost lease is replaced. Empty until the first campaign
   * has been granted one.
   */
  readonly leaseId: string;
  /**
   * An election named `name` (the key prefix `etcdctl elect name` uses). Throws
   * `InvalidOptionError` for a bad name. The connection holds it weakly (core's
   * `Handles`): dropped with nothing running on it, it is garbage like any object.
   */
  election(name: string, options?: EtcdElectionOptions): Election;
  /** Closes every election (resigning, deleting their keys), stops the keepalive, revokes the lease. Idempotent. */
  close(): Promise<void>;
}

/**
 * Connects: a member must answer (and accept our credentials) within
 * `connectTimeoutMs`. No lease yet: the first campaign grants it. Rejects
 * with `InvalidOptionError` for bad options (before any network traffic) and
 * with `ConnectionError` when no member answers in time (or one refuses our
 * credentials).
 */
export async function connectEtcd(options: EtcdConnectionOptions): Promise<EtcdConnection> {
  const resolved = resolveOptions(options);
  const connection = new Connection(resolved);
  const release = holdProcess();
  try {
    await connection.start();
  } finally {
    release();
  }
  return connection;
}

class Connection implements EtcdConnection, ConnectionCore {
  readonly endpoints: Endpoints;
  readonly keys: KeySpace;
  readonly logger;
  readonly clock;
  readonly slots = new Map<string, Candidate[]>();
  private readonly reaper: LeaseReaper;
  private readonly elections = new Handles<EtcdElection>();
  private readonly slot: SessionSlot<Session>;
  private lastHex = '';
  /** The hex ids of the leases this connection was granted, the newest 256. */
  private readonly ownHexes: string[] = [];
  private closing: Promise<void> | undefined;

  constructor(private readonly options: ResolvedOptions) {
    this.endpoints = new Endpoints(options);
    this.keys = new KeySpace(options.namespace);
    this.logger = options.logger;
    this.clock = options.clock;
    this.reaper = new LeaseReaper(this.endpoints, this.logger, this.clock);
    const { ttlSeconds, safetyMarginMs, operationTimeoutMs, clock, logger, telemetry } = options;
    const timing = { ttlMs: ttlSeconds * 1000, safetyMarginMs, operationTimeoutMs, clock, logger, telemetry };
    this.slot = new SessionSlot<Session>({
      open: async () => {
        const granted = await grantOnce(this.endpoints, ttlSeconds, clock, this.reaper);
        return new Session(granted.leaseId, granted.sentAt, this.endpoints, timing);
      },
      // Given up at the deadline: the lease may still exist on the server.
      retire: (session, reason) => {
        if (reason === 'deadline') this.reaper.add(session.leaseId);
      },
      discard: async (session) => {
        session.liveness.end('closed');
        await revokeOnce(this.endpoints, session.leaseId).catch(() => {});
      },
      isRefusal,
      backoff: { initialMs: 100, maxMs: 2000 },
      what: 'etcd lease',
      closed: () => new ClosedError('the etcd connection is closed'),
      clock,
      logger,
      opened: (session, first) => {
        this.lastHex = session.hex;
        this.ownHexes.push(session.hex);
        if (this.ownHexes.length > 256) this.ownHexes.shift();
        logger.info({ event: first ? 'session-opened' : 'session-replaced', lease: session.hex }, 'granted a fresh lease');
      },
    });
  }

  get leaseId(): string {
    return this.slot.current?.hex ?? this.lastHex;
  }

  /**
   * Whether `key` (`<name>/<lease hex>[-<slot>]`) is on a lease of this connection:
   * ours, whatever our candidates know of it yet (a create not answered) or
   * still (a key resigned but still seen by a reading taken before).
   */
  owns(key: string): boolean {
    // `<lease hex>[-<slot>][.<priority tag>]`
    return this.ownHexes.includes(key.slice(key.lastIndexOf('/') + 1).replace(/\..*$/, '').replace(/-\d+$/, ''));
  }

  async start(): Promise<void> {
    const { clock, connectTimeoutMs } = this.options;
    const until = clock.now() + connectTimeoutMs;
    let lastError: unknown;
    const backoff = new Backoff({ maxMs: 500 });
    while (clock.now() < until) {
      try {
        await this.endpoints.unary('connect', (client) => client.status(Math.max(1, until - clock.now())));
        this.logger.info({ event: LogEvent.Connected, endpoints: this.options.hosts }, 'connected to etcd');
        return;
      } catch (error) {
        lastError = error;
        if (!isTransient(error)) break;
      }
      await sleep(clock, Math.max(0, Math.min(backoff.take(), until - clock.now())));
    }
    await this.shutdown(Math.min(1000, this.options.operationTimeoutMs));
    const detail = lastError instanceof Error ? lastError.message : String(lastError ?? 'timed out');
    throw new ConnectionError(`could not connect to etcd at ${this.options.hosts.join(',')} within ${connectTimeoutMs} ms: ${detail}`, {
      cause: lastError,
      retryable: lastError === undefined || isTransient(lastError),
    });
  }

  election(name: string, options?: EtcdElectionOptions): Election {
    if (this.closing) throw new ClosedError('the etcd connection is closed');
    const election = new EtcdElection(this, name, options);
    this.elections.add(election);
    return election;
  }

  /**
   * A live session; the first call opens it, and while a lost one is being
   * replaced, waits for the replacement. Rejects with the grant's error when
   * etcd refuses to grant a lease for a reason retrying cannot fix (e.g.
   * permission denied) — and so does every call for a pause after it (see
   * core's `SessionSlot`); the first call after the pause tries again.
   */
  session(signal: AbortSignal): Promise<Session> {
    if (this.closing) return Promise.reject(new ClosedError('the etcd connection is closed'));
    return this.slot.get(signal);
  }

  forget(election: EtcdElection): void {
    this.elections.delete(election);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all(this.elections.live().map((e) => e.close()));
      await this.shutdown(this.options.operationTimeoutMs);
      this.logger.info({ event: 'closed', lease: this.leaseId }, 'etcd connection closed');
    })();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Stops the keepalive and revokes what we hold, waiting at most `budgetMs` for etcd. */
  private async shutdown(budgetMs: number): Promise<void> {
    const session = this.slot.close();
    if (session) {
      session.liveness.end('closed');
      this.reaper.add(session.leaseId);
    }
    // A grant still in flight revokes what it gets (the slot's discard) while the members are still open.
    await within(this.clock, this.slot.settled(), budgetMs);
    await this.reaper.flush(budgetMs);
    this.endpoints.close();
  }
}
