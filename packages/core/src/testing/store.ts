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
import { candidateOrder, mixedLayout, recordHolder, takenOver, type HandoverRequest, type LeaderRecord, type Passage, type QueueEntry } from '../priority.js';

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
  /** The revision that created it: the fencing token (in a plain election). */
  readonly createRevision: bigint;
  /** Set in a priority election. */
  readonly priority: number | undefined;
  readonly preempt: boolean;
}

/** A priority election's record: who leads (see core's priority.ts), on whose session, since which revision (the token). */
interface StoredRecord extends LeaderRecord {
  readonly sessionId: number;
  readonly token: bigint;
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
export type Position = { kind: 'first' } | { kind: 'behind'; predecessor: string } | { kind: 'gone' } | { kind: 'mixed'; error: Error };

/** One reading of a priority election. */
export interface Reading {
  readonly entries: QueueEntry[];
  readonly record: LeaderRecord | undefined;
}

export class Store {
  private revision = 0n;
  private nextSessionId = 1;
  private readonly sessions = new Map<number, Session>();
  /** Per election, entries in creation order (= revision order = queue order). */
  private readonly elections = new Map<string, Map<string, StoredEntry>>();
  private readonly byKey = new Map<string, StoredEntry>();
  private readonly keyWatches = new Map<string, Set<Watch<void>>>();
  /** One-shot watches for a touch (or the deletion) of an entry: a waiting candidate of a priority election on its own entry. */
  private readonly touchWatches = new Map<string, Set<Watch<void>>>();
  private readonly electionWatches = new Map<string, Set<Watch<CandidateInfo | undefined>>>();
  /** Per priority election: the record, and a handover asked for from elsewhere. */
  private readonly records = new Map<string, StoredRecord>();
  private readonly requests = new Map<string, HandoverRequest & { sessionId: number | undefined }>();
  /** Every change of an election's queue or request (a leader of a priority election follows them). */
  private readonly queueWatches = new Map<string, Set<Watch<void>>>();

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
    for (const [name, record] of [...this.records]) if (record.sessionId === sessionId) this.setRecord(name, undefined);
    for (const [name, request] of [...this.requests]) if (request.sessionId === sessionId) this.request(name, undefined);
    for (const key of [...session.keys]) this.deleteEntry(key);
    return true;
  }

  create(sessionId: number, name: string, payload: string, rank?: { priority: number; preempt: boolean }): StoredEntry {
    const session = this.liveSession(sessionId);
    const createRevision = ++this.revision;
    // Not any real wire format: unique per entry, grouped under the name.
    const key = `${name}/${session.id.toString(16)}-${createRevision}`;
    const entry: StoredEntry = { key, name, sessionId, payload, createRevision, priority: rank?.priority, preempt: rank?.preempt ?? false };
    let queue = this.elections.get(name);
    if (!queue) this.elections.set(name, (queue = new Map()));
    queue.set(key, entry);
    this.byKey.set(key, entry);
    session.keys.add(key);
    this.fireQueue(name);
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

  /** Deletes `key` whoever owns it (an operator's delete; `<name>/leader` is a priority election's record). False when it was not there. */
  deleteKey(key: string): boolean {
    if (key.endsWith('/leader') && this.deleteRecord(key.slice(0, -'/leader'.length))) return true;
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
    const entries = [...(this.elections.get(name)?.values() ?? [])];
    if (!this.isPriority(name)) return entries.map((entry) => info(entry));
    const record = this.records.get(name);
    const holder = recordHolder(entries.map(queueEntry), record);
    return candidateOrder(entries.map(queueEntry), record).map((e) =>
      info(this.byKey.get(e.key) as StoredEntry, this.tokenOf(e.key, record), e === holder || e.key === holder?.key ? record?.via : undefined),
    );
  }

  /** The entries' keys in creation order, then a priority election's record and handover request, if any. */
  keys(name: string): string[] {
    const extra = [...(this.records.has(name) ? [`${name}/leader`] : []), ...(this.requests.has(name) ? [`${name}/handover`] : [])];
    return [...(this.elections.get(name)?.keys() ?? []), ...extra];
  }

  leader(name: string): CandidateInfo | undefined {
    if (this.isPriority(name)) {
      const record = this.records.get(name);
      const holder = recordHolder(this.reading(name).entries, record);
      return holder && record ? info(this.byKey.get(holder.key) as StoredEntry, record.token, record.via) : undefined;
    }
    const first = this.elections.get(name)?.values().next();
    return first && !first.done ? info(first.value) : undefined;
  }

  /** The id of the candidate whose entry is `key`, or undefined when it is gone. */
  idOf(key: string): string | undefined {
    const entry = this.byKey.get(key);
    return entry && decodePayload(entry.payload).id;
  }

  /** A priority election: an entry with a priority, or a record, is there. */
  isPriority(name: string): boolean {
    if (this.records.has(name)) return true;
    for (const entry of this.elections.get(name)?.values() ?? []) if (entry.priority !== undefined) return true;
    return false;
  }

  reading(name: string): Reading {
    return { entries: [...(this.elections.get(name)?.values() ?? [])].map(queueEntry), record: this.records.get(name) };
  }

  /** The record's token while it names `key` (no handover under way). */
  recordToken(name: string, key: string): bigint | undefined {
    const record = this.records.get(name);
    return record && record.holder === key && record.to === undefined ? record.token : undefined;
  }

  /** Creates the record for `key` if nobody holds it and `key` is ours and live; its token, else undefined. */
  take(name: string, key: string, sessionId: number): bigint | undefined {
    if (this.records.has(name) || !this.owns(key, sessionId)) return undefined;
    return this.setRecord(name, { holder: key, sessionId, token: ++this.revision });
  }

  /** Replaces a record handed over to `key` with our own; the new token, else undefined. */
  takeOver(name: string, key: string, sessionId: number): bigint | undefined {
    const from = this.records.get(name);
    if (from?.to !== key || !this.owns(key, sessionId)) return undefined;
    return this.setRecord(name, { ...takenOver(key, from), sessionId, token: ++this.revision });
  }

  /** Marks the record of `holder` (on `sessionId`) as handed over to `to`. False when it is not theirs. */
  markHandover(name: string, holder: string, sessionId: number, to: string, why: Passage): boolean {
    const record = this.records.get(name);
    if (!record || record.holder !== holder || record.sessionId !== sessionId || record.to !== undefined) return false;
    this.setRecord(name, { holder, sessionId, token: record.token, to, why });
    return true;
  }

  /** Deletes the record if it is `holder`'s on `sessionId`. */
  release(name: string, holder: string, sessionId: number): void {
    const record = this.records.get(name);
    if (record && record.holder === holder && record.sessionId === sessionId) this.setRecord(name, undefined);
  }

  /** Deletes the record whoever holds it (an operator's delete). */
  deleteRecord(name: string): boolean {
    if (!this.records.has(name)) return false;
    this.setRecord(name, undefined);
    return true;
  }

  /** Rewrites entry `key` unchanged: wakes whoever watches it for a touch (a newcomer passing it, a handover to it). */
  touchEntry(key: string): void {
    if (!this.byKey.has(key)) return;
    ++this.revision;
    this.fire(this.touchWatches, key);
  }

  /** One-shot watch for a touch or the deletion of entry `key`; `exists: false` when it is gone already. */
  watchTouch(key: string, sink: Sink, fn: () => void): { exists: boolean; cancel: () => void } {
    if (!this.byKey.has(key)) return { exists: false, cancel: () => {} };
    return { exists: true, cancel: this.addWatch(this.touchWatches, key, { sink, fn }) };
  }

  private fire(table: Map<string, Set<Watch<void>>>, key: string): void {
    const watches = table.get(key);
    table.delete(key);
    for (const watch of watches ?? []) watch.sink(watch.fn);
  }

  /** Writes (or, with none, deletes) election `name`'s handover request; one written with a session goes with it. */
  request(name: string, request: HandoverRequest | undefined, sessionId?: number): void {
    if (request) this.requests.set(name, { ...request, sessionId });
    else this.requests.delete(name);
    this.fireQueue(name);
  }

  pendingRequest(name: string): HandoverRequest | undefined {
    return this.requests.get(name);
  }

  /** Watches every change of an election's queue, and handover requests, until cancelled. */
  watchQueue(name: string, sink: Sink, fn: () => void): () => void {
    return this.addWatch(this.queueWatches, name, { sink, fn });
  }

  /** The error for the plain campaign whose entry is `key` in a priority election, or undefined. */
  plainMixed(name: string, key: string): Error | undefined {
    const { entries, record } = this.reading(name);
    return mixedLayout(name, entries, record, key);
  }

  private owns(key: string, sessionId: number): boolean {
    return this.byKey.get(key)?.sessionId === sessionId && this.sessions.has(sessionId);
  }

  private tokenOf(key: string, record: StoredRecord | undefined): bigint {
    return record?.holder === key && record.to === undefined ? record.token : (this.byKey.get(key) as StoredEntry).createRevision;
  }

  private setRecord(name: string, record: StoredRecord | undefined): bigint | undefined {
    ++this.revision;
    if (record) this.records.set(name, record);
    else this.records.delete(name);
    // Waiting candidates watch the record for its deletion only (a handover's
    // mark or a take-over wakes nobody but whom it concerns); a handing-over
    // holder watches it for any change.
    this.fire(this.keyWatches, recordChangeKey(name));
    if (!record) this.fire(this.keyWatches, recordKey(name));
    this.announce(name);
    return record?.token;
  }

  private fireQueue(name: string): void {
    for (const watch of this.queueWatches.get(name) ?? []) watch.sink(watch.fn);
  }

  /** First, behind a predecessor, or gone (missing, or not owned by this live session). */
  position(key: string, sessionId: number): Position {
    const entry = this.byKey.get(key);
    if (!entry || entry.sessionId !== sessionId || !this.sessions.has(sessionId)) return { kind: 'gone' };
    const mixed = this.plainMixed(entry.name, key);
    if (mixed) return { kind: 'mixed', error: mixed };
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
    if (!this.byKey.has(key) && !this.records.has(recordName(key))) return { exists: false, cancel: () => {} };
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
    this.fire(this.keyWatches, key);
    this.fire(this.touchWatches, key);
    this.fireQueue(entry.name);
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

/** The name watches on an election's record go by, for its deletion (no entry's key ends like it). */
export function recordKey(name: string): string {
  return `${name}/\0record`;
}

/** The name watches on any change of an election's record go by. */
export function recordChangeKey(name: string): string {
  return `${name}/\0record-change`;
}

function recordName(key: string): string {
  for (const suffix of ['/\0record', '/\0record-change']) if (key.endsWith(suffix)) return key.slice(0, -suffix.length);
  return '';
}

function queueEntry(entry: StoredEntry): QueueEntry {
  return { key: entry.key, priority: entry.priority, preempt: entry.preempt, order: entry.createRevision };
}

function info(entry: StoredEntry, token = entry.createRevision, via?: Passage): CandidateInfo {
  const { id, value } = decodePayload(entry.payload);
  const base = { id, value, token, key: entry.key };
  if (entry.priority === undefined) return base;
  return { ...base, priority: entry.priority, ...(entry.preempt ? { preempt: true } : {}), ...(via ? { via } : {}) };
}
