/**
 * The in-memory server's state: sessions that expire when not heard from,
 * entries per election ordered by an increasing revision (the token), and
 * one-shot watches. Everything a client does goes through its connection,
 * which decides whether the server can hear it; the store itself is plain
 * synchronous bookkeeping, so a `ManualClock` drives it exactly.
 *
 * Not exported from `@elect/core/testing`: users reach it through
 * `MemoryServer` (inspection, faults) and `MemoryConnection` (the client side).
 */
import type { Clock } from '../clock.js';
import type { CandidateInfo } from '../contract.js';
import { NotLeaderError, SessionExpiredError } from '../errors.js';
import { decodePayload } from '../payload.js';

/**
 * How the server reaches one client: `fn` runs on the client when (and if) the
 * message gets there. A suspended connection drops it.
 */
export type Sink = (fn: () => void) => void;

export interface StoredEntry {
  readonly key: string;
  readonly name: string;
  readonly sessionId: number;
  payload: string;
  /** The revision that created it: the fencing token. */
  readonly createRevision: bigint;
}

interface Session {
  readonly id: number;
  readonly timeoutMs: number;
  lastHeard: number;
  readonly sink: Sink;
  readonly onExpired: () => void;
  readonly keys: Set<string>;
  cancel: () => void;
}

interface Watch<A> {
  readonly sink: Sink;
  readonly fn: (arg: A) => void;
}

/** Where a candidate stands in its election's queue. */
export type Position = { kind: 'first' } | { kind: 'behind'; predecessor: string } | { kind: 'gone' };

export class Store {
  private revision = 0n;
  private nextSessionId = 1;
  private readonly sessions = new Map<number, Session>();
  /** Per election, entries in creation order (= revision order = queue order). */
  private readonly elections = new Map<string, Map<string, StoredEntry>>();
  private readonly byKey = new Map<string, StoredEntry>();
  private readonly keyWatches = new Map<string, Set<Watch<void>>>();
  private readonly electionWatches = new Map<string, Set<Watch<CandidateInfo | undefined>>>();

  constructor(readonly clock: Clock) {}

  openSession(timeoutMs: number, sink: Sink, onExpired: () => void): number {
    const session: Session = {
      id: this.nextSessionId++,
      timeoutMs,
      lastHeard: this.clock.now(),
      sink,
      onExpired,
      keys: new Set(),
      cancel: () => {},
    };
    this.sessions.set(session.id, session);
    this.armExpiry(session);
    return session.id;
  }

  /** The client was heard from now. False when the session no longer exists. */
  touch(sessionId: number): boolean {
    const session = this.sessions.get(sessionId);
    if (!session) return false;
    // The expiry timer re-checks lastHeard when it fires, so no re-arm here.
    session.lastHeard = this.clock.now();
    return true;
  }

  isAlive(sessionId: number): boolean {
    return this.sessions.has(sessionId);
  }

  sessionIds(): number[] {
    return [...this.sessions.keys()];
  }

  /**
   * Ends a session and deletes its entries. `expired` tells its owner (if the
   * message reaches it) before the deletions are announced, so the owner
   * reports the loss as a session expiry rather than a deleted entry.
   */
  endSession(sessionId: number, expired: boolean): boolean {
    const session = this.sessions.get(sessionId);
    if (!session) return false;
    this.sessions.delete(sessionId);
    session.cancel();
    if (expired) session.sink(session.onExpired);
    for (const key of [...session.keys]) this.deleteEntry(key);
    return true;
  }

  create(sessionId: number, name: string, payload: string): StoredEntry {
    const session = this.liveSession(sessionId);
    const createRevision = ++this.revision;
    // Not any real wire format: unique per entry, grouped under the name.
    const key = `${name}/${session.id.toString(16)}-${createRevision}`;
    const entry: StoredEntry = { key, name, sessionId, payload, createRevision };
    let queue = this.elections.get(name);
    if (!queue) this.elections.set(name, (queue = new Map()));
    queue.set(key, entry);
    this.byKey.set(key, entry);
    session.keys.add(key);
    this.announce(name);
    return entry;
  }

  /** Deletes `key` if `sessionId` owns it. Idempotent: false when it was not there. */
  remove(key: string, sessionId: number): boolean {
    const entry = this.byKey.get(key);
    if (!entry || entry.sessionId !== sessionId) return false;
    this.deleteEntry(key);
    return true;
  }

  /** Deletes `key` whoever owns it (an operator's delete). False when it was not there. */
  deleteKey(key: string): boolean {
    if (!this.byKey.has(key)) return false;
    this.deleteEntry(key);
    return true;
  }

  /** Guarded write: only the owning, live session can change its entry. */
  put(key: string, sessionId: number, payload: string): void {
    const entry = this.byKey.get(key);
    if (!entry || entry.sessionId !== sessionId || !this.sessions.has(sessionId)) {
      throw new NotLeaderError(`entry ${key} is gone or no longer ours: refusing to write it`);
    }
    ++this.revision;
    entry.payload = payload;
    this.announce(entry.name);
  }

  list(name: string): CandidateInfo[] {
    return [...(this.elections.get(name)?.values() ?? [])].map(info);
  }

  keys(name: string): string[] {
    return [...(this.elections.get(name)?.keys() ?? [])];
  }

  leader(name: string): CandidateInfo | undefined {
    const first = this.elections.get(name)?.values().next();
    return first && !first.done ? info(first.value) : undefined;
  }

  /** First, behind a predecessor, or gone (missing, or not owned by this live session). */
  position(key: string, sessionId: number): Position {
    const entry = this.byKey.get(key);
    if (!entry || entry.sessionId !== sessionId || !this.sessions.has(sessionId)) return { kind: 'gone' };
    let predecessor: string | undefined;
    for (const other of this.elections.get(entry.name)?.keys() ?? []) {
      if (other === key) break;
      predecessor = other;
    }
    return predecessor === undefined ? { kind: 'first' } : { kind: 'behind', predecessor };
  }

  /**
   * One-shot watch for the deletion of `key`. Registered atomically with the
   * existence check: `exists: false` means it is already gone (no watch set).
   */
  watchDeletion(key: string, sink: Sink, fn: () => void): { exists: boolean; cancel: () => void } {
    if (!this.byKey.has(key)) return { exists: false, cancel: () => {} };
    return { exists: true, cancel: this.addWatch(this.keyWatches, key, { sink, fn }) };
  }

  /**
   * Watches every change of an election's leader (who, or their value). Each
   * notification carries the leader as it was right after that change, so a
   * reachable watcher sees every change, in order. Returns the leader now.
   */
  watchLeader(name: string, sink: Sink, fn: (leader: CandidateInfo | undefined) => void): { leader: CandidateInfo | undefined; cancel: () => void } {
    return { leader: this.leader(name), cancel: this.addWatch(this.electionWatches, name, { sink, fn }) };
  }

  private liveSession(sessionId: number): Session {
    const session = this.sessions.get(sessionId);
    if (!session) throw new SessionExpiredError(`session ${sessionId.toString(16)} has expired or was closed`);
    return session;
  }

  private armExpiry(session: Session): void {
    session.cancel = this.clock.schedule(() => {
      if (!this.sessions.has(session.id)) return;
      if (this.clock.now() - session.lastHeard >= session.timeoutMs) this.endSession(session.id, true);
      else this.armExpiry(session);
    }, session.lastHeard + session.timeoutMs - this.clock.now());
  }

  private deleteEntry(key: string): void {
    const entry = this.byKey.get(key);
    if (!entry) return;
    ++this.revision;
    this.byKey.delete(key);
    this.sessions.get(entry.sessionId)?.keys.delete(key);
    const queue = this.elections.get(entry.name);
    queue?.delete(key);
    if (queue?.size === 0) this.elections.delete(entry.name);
    const watches = this.keyWatches.get(key);
    this.keyWatches.delete(key);
    for (const watch of watches ?? []) watch.sink(watch.fn);
    this.announce(entry.name);
  }

  private announce(name: string): void {
    const leader = this.leader(name);
    for (const watch of this.electionWatches.get(name) ?? []) watch.sink(() => watch.fn(leader));
  }

  private addWatch<A>(table: Map<string, Set<Watch<A>>>, at: string, watch: Watch<A>): () => void {
    let set = table.get(at);
    if (!set) table.set(at, (set = new Set()));
    set.add(watch);
    return () => {
      set.delete(watch);
      if (set.size === 0 && table.get(at) === set) table.delete(at);
    };
  }
}

function info(entry: StoredEntry): CandidateInfo {
  const { id, value } = decodePayload(entry.payload);
  return { id, value, token: entry.createRevision, key: entry.key };
}
