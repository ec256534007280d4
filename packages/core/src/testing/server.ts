/**
 * An in-memory election server for unit tests: no ZooKeeper, no etcd, same
 * contract. Sessions expire when the server has not heard from their client
 * for `sessionTimeoutMs` (on the server's clock); every entry gets a fresh,
 * increasing revision as its fencing token; waiters watch only their
 * predecessor. Faults are injected here (`expireSession`) and on connections
 * (`expire`, `suspend`, `heal`).
 *
 * @example
 * const server = new MemoryServer();
 * const connection = server.connect({ sessionTimeoutMs: 1000 });
 * const election = connection.election('billing');
 * const leadership = await election.campaign({ id: 'worker-1' });
 */
import { systemClock, type Clock } from '../clock.js';
import type { CandidateInfo } from '../contract.js';
import { InvalidOptionError } from '../errors.js';
import { knownKeys } from '../options.js';
import { MemoryConnection } from './connection.js';
import type { MemoryConnectionOptions } from './connection-options.js';
import { Store } from './store.js';

/** Options of `new MemoryServer()`; unknown keys are refused with `InvalidOptionError`. */
export interface MemoryServerOptions {
  /**
   * Drives session expiry. Default: the system clock. Pass a `ManualClock` to
   * step time by hand; connections share it unless given their own.
   */
  clock?: Clock;
}

/**
 * The in-memory server. Inspection (`keys`, `candidates`, `leader`,
 * `sessionIds`) reads its state directly, unaffected by any client's
 * suspension; faults act on it the way a server-side action would.
 */
export class MemoryServer {
  readonly clock: Clock;
  private readonly store: Store;
  private readonly connections = new Set<MemoryConnection>();

  constructor(options: MemoryServerOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'must be an object');
    knownKeys('MemoryServer', options, ['clock']);
    this.clock = options.clock ?? systemClock;
    this.store = new Store(this.clock);
  }

  /**
   * A new client with its own session, as a separate process would have.
   * Throws `InvalidOptionError` for bad options (see `MemoryConnectionOptions`).
   */
  connect(options: MemoryConnectionOptions = {}): MemoryConnection {
    const connection = new MemoryConnection(this.store, options);
    this.connections.add(connection);
    return connection;
  }

  /** The keys stored under election `name`, in queue order (then a priority election's `leader` record and `handover` request); `[]` when nothing is left. */
  keys(name: string): string[] {
    return this.store.keys(name);
  }

  /** The queue of election `name` as the server holds it (the first one leads). */
  candidates(name: string): CandidateInfo[] {
    return this.store.list(name);
  }

  /** The leader of election `name` as the server sees it, or undefined. */
  leader(name: string): CandidateInfo | undefined {
    return this.store.leader(name);
  }

  /** Ids of the sessions the server holds. */
  sessionIds(): number[] {
    return this.store.sessionIds();
  }

  isAlive(sessionId: number): boolean {
    return this.store.isAlive(sessionId);
  }

  /**
   * Fault: ends a session now and deletes its entries, as a session kill or
   * lease revoke does. Its client hears of it unless its connection is
   * suspended (then on heal). Returns false if there was no such session.
   */
  expireSession(sessionId: number): boolean {
    return this.store.endSession(sessionId, true);
  }

  /**
   * Fault: deletes one entry, as an operator might. A leader whose entry it
   * was loses leadership with reason `deleted`; a waiting candidate notices
   * the next time it is woken and re-enters the queue with a fresh entry.
   * Returns false if there was no such key.
   */
  deleteKey(key: string): boolean {
    return this.store.deleteKey(key);
  }

  /** Closes every connection made by this server (handy in `afterEach`). */
  async close(): Promise<void> {
    await Promise.all([...this.connections].map((connection) => connection.close()));
    this.connections.clear();
  }
}
