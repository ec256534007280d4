/**
 * Priority elections, once for every backend. The rules are decided here
 * from one reading of the election; a backend reads, writes and waits.
 *
 * A plain election is Curator's / etcdctl's: the first entry in the queue
 * leads. With priorities that cannot work — a newcomer of higher priority
 * would sort ahead of the sitting leader and lead beside it — so a priority
 * election adds one more entry, the *record*: created by the candidate that
 * takes leadership, on its own session (ephemeral znode, key on its lease),
 * naming that candidate's queue entry. At most one record exists, so at most
 * one candidate leads; it leads while the record names it and its session
 * lives, and the loss deadline covers the record exactly as it covers a
 * plain leader's entry. The fencing token is the record's: its creation zxid
 * on ZooKeeper, the revision of the write that named the holder on etcd.
 *
 * Waiting is as in a plain election, in priority order instead of creation
 * order (highest priority first, ties by creation), among the candidates
 * that do not hold the record (`waitOrder`): each watches the entry just
 * ahead of it for its deletion, and the first one watches the record. When
 * the record goes, the first candidate takes it — one wake per change. Unlike
 * a plain queue, a newcomer may sort in anywhere, between a waiter and what
 * that waiter watches; so a newcomer touches the entry just behind it once
 * (`behind`), and that candidate re-reads and waits on the newcomer instead.
 *
 * A handover rewrites the record to `{ holder, to }`: the holder has stopped
 * leading, nobody may take the record but `to`, and `to` replaces it with its
 * own (ZooKeeper: delete and create in one transaction; etcd: one guarded
 * write on its lease). The holder wakes `to` by touching `to`'s own entry
 * (rewriting its data unchanged, guarded by its version): a waiting
 * candidate of a priority election also watches its own entry for that —
 * what it waits on ahead of it may be stale by then, its own entry is not.
 */
import type { LeaderInfo } from './contract.js';
import { HandoverFailedError, MixedLayoutError } from './errors.js';
import { MAX_PRIORITY } from './options.js';

/** One entry of a queue, as a backend read it. */
export interface QueueEntry {
  /** The backend's name for it (znode path, etcd key). */
  readonly key: string;
  /** Undefined for a plain entry (Curator's / etcdctl's layout). */
  readonly priority: number | undefined;
  readonly preempt: boolean;
  /** Creation order: ZooKeeper's sequence number, etcd's create revision. */
  readonly order: bigint;
}

/** Why leadership passed other than by an ordinary succession: a preemption, or a handover. */
export type Passage = 'preempted' | 'handover';

/**
 * What the record holds. `to` (and `why`) are set while the holder hands
 * leadership over; `via` says how the holder came to lead when it took
 * leadership over from another (`elect observe` shows it).
 */
export interface LeaderRecord {
  /** The holder's queue entry (its key). */
  readonly holder: string;
  readonly to?: string;
  readonly why?: Passage;
  readonly via?: Passage;
}

/** The priority part of an entry's name: `prio-<n>`, or `prio-<n>-preempt`. */
export function priorityTag(priority: number, preempt: boolean): string {
  return `prio-${priority}${preempt ? '-preempt' : ''}`;
}

/** The priority a tag stands for, or undefined when `tag` is not one. */
export function parsePriorityTag(tag: string): { priority: number; preempt: boolean } | undefined {
  const match = /^prio-(0|[1-9]\d{0,9})(-preempt)?$/.exec(tag);
  if (!match) return undefined;
  const priority = Number(match[1]);
  return priority <= MAX_PRIORITY ? { priority, preempt: match[2] !== undefined } : undefined;
}

export function encodeRecord(record: LeaderRecord): string {
  const { holder, to, why, via } = record;
  return JSON.stringify({ holder, ...(to === undefined ? {} : { to, why: why ?? 'handover' }), ...(via === undefined ? {} : { via }) });
}

/** The record, or undefined when `text` is not one (a stranger's data: treat the record as held by nobody we know). */
export function decodeRecord(text: string): LeaderRecord | undefined {
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { holder, to, why, via } = parsed as Record<string, unknown>;
    if (typeof holder !== 'string' || (to !== undefined && typeof to !== 'string')) return undefined;
    const passage = (value: unknown): Passage | undefined => (value === 'preempted' || value === 'handover' ? value : undefined);
    const w = passage(why);
    const v = passage(via);
    return { holder, ...(to === undefined ? {} : { to, why: w ?? 'handover' }), ...(v === undefined ? {} : { via: v }) };
  } catch {
    return undefined;
  }
}

/** The record a candidate writes when it takes over the record `from` (which hands leadership to it). */
export function takenOver(holder: string, from: LeaderRecord): LeaderRecord {
  return { holder, via: from.why ?? 'handover' };
}

/** A request to the leader of the term `token` to hand over to the candidate `to` (`election.handover()`). */
export interface HandoverRequest {
  readonly to: string;
  readonly token: bigint;
}

export function encodeRequest(request: HandoverRequest): string {
  return JSON.stringify({ to: request.to, token: String(request.token) });
}

export function decodeRequest(text: string): HandoverRequest | undefined {
  try {
    const { to, token } = JSON.parse(text) as Record<string, unknown>;
    if (typeof to !== 'string' || typeof token !== 'string' || !/^\d+$/.test(token)) return undefined;
    return { to, token: BigInt(token) };
  } catch {
    return undefined;
  }
}

/** Highest priority first; ties (and plain entries, all alike) by creation. */
export function priorityOrder<E extends QueueEntry>(entries: readonly E[]): E[] {
  return [...entries].sort((a, b) => (b.priority ?? -1) - (a.priority ?? -1) || (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
}

/** The holder's entry: the leader, when the record names an entry that exists and no handover is under way. */
export function recordHolder<E extends QueueEntry>(entries: readonly E[], record: LeaderRecord | undefined): E | undefined {
  if (record === undefined || record.to !== undefined) return undefined;
  return entries.find((entry) => entry.key === record.holder);
}

/** `candidates()` of a priority election: the leader first, then the others in the order they would lead. */
export function candidateOrder<E extends QueueEntry>(entries: readonly E[], record: LeaderRecord | undefined): E[] {
  const holder = recordHolder(entries, record);
  const rest = priorityOrder(entries.filter((entry) => entry !== holder));
  return holder ? [holder, ...rest] : rest;
}

/** What one campaign of a priority election does next, given a reading of the election. */
export type Step<E extends QueueEntry = QueueEntry> =
  /** Our entry is gone (or not ours any more): enter again. */
  | { readonly kind: 'gone' }
  /** Plain entries share the election: withdraw and reject with this error. */
  | { readonly kind: 'mixed'; readonly error: MixedLayoutError }
  /** The record names us already (a write of ours whose answer was lost): lead. */
  | { readonly kind: 'lead' }
  /** The record hands leadership over to us: replace it with our own. */
  | { readonly kind: 'take-over' }
  /** We are first and nobody holds the record: create it. */
  | { readonly kind: 'take' }
  /** Wait until the entry just ahead of us goes (or changes), or our own entry is touched, then read again. */
  | { readonly kind: 'wait'; readonly ahead: E }
  /** We are first and the record is held: wait until it changes or goes, or our own entry is touched, then read again. */
  | { readonly kind: 'wait-record' };

/** The next step of the campaign whose entry is `own`. `name` is the election's, for the error. */
export function priorityStep<E extends QueueEntry>(name: string, entries: readonly E[], record: LeaderRecord | undefined, own: string): Step<E> {
  if (!entries.some((entry) => entry.key === own)) return { kind: 'gone' };
  const mixed = mixedLayout(name, entries, record, own);
  if (mixed) return { kind: 'mixed', error: mixed };
  if (record?.holder === own && record.to === undefined) return { kind: 'lead' };
  if (record?.to === own) return { kind: 'take-over' };
  const order = waitOrder(entries, record);
  const at = order.findIndex((entry) => entry.key === own);
  if (at > 0) return { kind: 'wait', ahead: order[at - 1] as E };
  return record === undefined ? { kind: 'take' } : { kind: 'wait-record' };
}

/**
 * The order candidates wait in: priority order among those that do not hold
 * the record. The holder's entry waits for nothing and is waited on by nobody
 * (the first waits on the record), so its `proclaim()` wakes nobody.
 */
export function waitOrder<E extends QueueEntry>(entries: readonly E[], record: LeaderRecord | undefined): E[] {
  return priorityOrder(entries.filter((entry) => entry.key !== record?.holder));
}

/**
 * The entry just behind `own` in the wait order. A candidate that has just
 * entered the queue touches it once: that candidate waited on whatever was
 * ahead of it before we sorted in between, and now re-reads and waits on us
 * — so that a later change wakes one candidate, not every one that waited on
 * the same entry.
 */
export function behind<E extends QueueEntry>(entries: readonly E[], record: LeaderRecord | undefined, own: string): E | undefined {
  const order = waitOrder(entries, record);
  const at = order.findIndex((entry) => entry.key === own);
  return at < 0 ? undefined : order[at + 1];
}

/**
 * The error for the campaign whose entry is `own` when the election holds
 * the other layout: the older layout keeps the election. So a priority entry
 * refuses to stay behind a plain (Curator / etcdctl) entry older than it, and
 * a plain entry behind a priority entry older than it, or in an election
 * whose record exists; a newer entry of the other layout is that entry's own
 * mistake, refused when it reads. Undefined when there is no conflict (or
 * `own` is not among `entries`).
 */
export function mixedLayout(name: string, entries: readonly QueueEntry[], record: LeaderRecord | undefined, own: string): MixedLayoutError | undefined {
  const mine = entries.find((entry) => entry.key === own);
  if (!mine) return undefined;
  const priority = mine.priority !== undefined;
  const older = entries.filter((entry) => entry.order < mine.order && (entry.priority !== undefined) !== priority).length;
  const other = older + (!priority && record !== undefined ? 1 : 0);
  if (other === 0) return undefined;
  return new MixedLayoutError(
    priority
      ? `election ${JSON.stringify(name)} has ${other} candidate(s) without a priority (Curator's / etcdctl's layout), ` +
          'which cannot honour priorities: campaign without a priority there, or give every candidate one'
      : `election ${JSON.stringify(name)} is a priority election (its candidates campaign with a priority): ` +
          'campaign with a priority too (elect: --priority N), or use another election name',
  );
}

/**
 * The waiting entry that preempts the holder `holder`: the first, in
 * priority order, that campaigns with `preempt` at a higher priority.
 */
export function preemptor<E extends QueueEntry>(entries: readonly E[], holder: string): E | undefined {
  const own = entries.find((entry) => entry.key === holder);
  if (own?.priority === undefined) return undefined;
  return priorityOrder(entries).find((entry) => entry.preempt && entry.priority !== undefined && entry.priority > (own.priority as number));
}

/**
 * The entry a handover to the candidate `id` goes to: the first waiting one
 * with that id in priority order (never the holder's own) — or, without an
 * id, the first waiting one: who leads next anyway. Undefined when none waits.
 */
export function handoverTarget<E extends QueueEntry>(entries: readonly E[], holder: string, idOf: (entry: E) => string, id: string | undefined): E | undefined {
  return priorityOrder(entries).find((entry) => entry.key !== holder && (id === undefined || idOf(entry) === id));
}

/** `election.handover()`'s view of the chosen candidate: see `handedOver`. */
export interface HandoverTarget {
  /**
   * Resolves once no candidate of the chosen id waits any more — the leader
   * hands over by id, so one that left and re-entered still counts (never,
   * if that cannot be told).
   */
  readonly gone: Promise<void>;
  /** Who leads now: a fresh read. */
  leader(): Promise<LeaderInfo | undefined>;
}

/**
 * `election.handover()`'s wait, for every backend: follows `leaders` (an
 * observation begun before the request was written) until `to` leads, and
 * resolves with it. Rejects with `HandoverFailedError` when someone else
 * comes to lead after `asked` (the leader the request went to) — `to` left
 * before taking over, the request was dropped, a preemptor came first — so
 * that the caller is never left waiting for what can no longer happen.
 * With `target`, it also rejects as soon as no candidate `to` waits while
 * `asked` still leads: the leader then drops the request (or, if it had
 * yielded already, passes leadership on to whoever is next when it
 * releases), and might keep leading for as long as it likes. Undefined when `leaders` ended
 * (its signal aborted).
 */
export async function handedOver(leaders: AsyncIterable<LeaderInfo | undefined>, asked: LeaderInfo, to: string, target?: HandoverTarget): Promise<LeaderInfo | undefined> {
  const feed = leaders[Symbol.asyncIterator]();
  // A watch that fails only stops telling: the feed still decides.
  let gone = target?.gone.then(
    () => 'gone' as const,
    () => forever(),
  );
  let next = feed.next();
  try {
    for (;;) {
      const step = gone ? await Promise.race([next, gone]) : await next;
      if (step === 'gone') {
        gone = undefined;
        const now = await target?.leader().catch(() => undefined);
        if (now?.token === asked.token) {
          throw new HandoverFailedError(`${JSON.stringify(to)} left before it could take over: ${JSON.stringify(asked.id)} still leads`);
        }
        continue; // leadership moved on (or the read failed): the feed says to whom
      }
      if (step.done) return undefined;
      next = feed.next();
      const leader = step.value;
      if (leader === undefined || leader.token === asked.token) continue;
      if (leader.id === to) return leader;
      if (leader.token > asked.token) {
        throw new HandoverFailedError(`${JSON.stringify(to)} did not take over from ${JSON.stringify(asked.id)}: ${JSON.stringify(leader.id)} leads now (did ${JSON.stringify(to)} leave, or was ${JSON.stringify(asked.id)} preempted first?)`);
      }
    }
  } finally {
    void feed.return?.().catch(() => {});
  }
}

/**
 * `HandoverTarget.gone`, for every backend: resolves once `find` (a fresh
 * reading of the election) finds no candidate of the chosen id waiting. Each
 * one it finds is waited on with `left` until its entry goes, then the
 * election is read again: the leader hands over by id, so one that
 * re-entered under the same id still counts. Never, if a reading fails or
 * `left` cannot tell (resolves false, or rejects).
 */
export async function noneWaiting<T>(find: () => Promise<T | undefined>, left: (found: T) => Promise<boolean>): Promise<void> {
  for (;;) {
    let found: T | undefined;
    try {
      found = await find();
    } catch {
      return forever();
    }
    if (found === undefined) return;
    if (!(await left(found).catch(() => false))) return forever();
  }
}

function forever(): Promise<never> {
  return new Promise<never>(() => {});
}
