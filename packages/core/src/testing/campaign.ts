/**
 * The in-memory campaign: create an entry, then loop — re-read our position,
 * claim if first, else wait for the deletion of our immediate predecessor
 * only (no herd). Every reason to wake (predecessor gone, session lost or
 * replaced, connection healed) goes through one wait and ends in a re-read;
 * the claim itself re-checks, in the same request, that the entry is still
 * ours and our session alive, so a stale entry can never lead.
 */
import type { LeadershipHandle } from '../leadership.js';
import { ClosedError, ErrorCode, abortReason, isElectError } from '../errors.js';
import { whenAborted } from '../wait.js';
import { LogEvent } from '../logger.js';
import { behind, priorityStep } from '../priority.js';
import type { ClientSession, ConnectionLink } from './link.js';
import { recordKey, type Position, type Store } from './store.js';

export interface CampaignContext {
  readonly conn: ConnectionLink;
  readonly name: string;
  readonly id: string;
  readonly payload: string;
  /** Set in a priority election. */
  readonly rank: { priority: number; preempt: boolean } | undefined;
  /**
   * Makes the leadership. Called synchronously inside the request that found
   * our entry first and owned by our live session.
   */
  claim(store: Store, key: string, token: bigint, session: ClientSession): LeadershipHandle;
  /** Told when an entry of ours appears or is dropped (a claimed one stays until the leadership ends). */
  entry(key: string, present: boolean): void;
}

interface Mine {
  readonly key: string;
  readonly token: bigint;
  readonly session: ClientSession;
  /** Not read since it entered (a priority campaign then touches the entry behind it). */
  fresh: boolean;
}

/**
 * Resolves with the leadership once we are first. Rejects with
 * `abortReason(stop)` when `stop` aborts (user abort or election close) and
 * with `ClosedError` when the connection closes — in both cases after our
 * entry was removed (or is known to go with its session). Connection trouble
 * and session loss never reject: the loop waits, then re-enters with a fresh
 * entry on the new session.
 */
export async function campaignLoop(ctx: CampaignContext, stop: AbortSignal): Promise<LeadershipHandle> {
  let mine: Mine | undefined;
  try {
    for (;;) {
      const session = await ctx.conn.ready(stop);
      try {
        if (mine?.session !== session) {
          // An entry of an earlier session is gone or goes with that session.
          mine = drop(ctx, mine);
          const entry = await ctx.conn.call((store) => {
            const created = store.create(session.id, ctx.name, ctx.payload, ctx.rank);
            // Known to be ours before the creation's announcement is delivered.
            ctx.entry(created.key, true);
            return created;
          });
          mine = { key: entry.key, token: entry.createRevision, session, fresh: true };
          continue; // re-check stop and the session before reading the queue
        }
        const current = mine;
        const step = await ctx.conn.call((store) => {
          if (stop.aborted) return undefined;
          const turn = ctx.rank ? priorityTurn(ctx, store, current) : plainTurn(ctx, store, current);
          // The watches go in with the reading that chose them, in the same
          // request: a change right after the reading is never missed. A
          // priority campaign also wakes when its own entry is touched (a
          // newcomer passed it, a handover to it).
          if (turn?.kind !== 'behind') return turn;
          return { kind: 'armed' as const, on: turn.predecessor, armed: arm(ctx.conn, store, turn.predecessor, ctx.rank ? current.key : undefined) };
        });
        if (step === undefined) continue;
        if (step.kind === 'claimed') return step.handle;
        if (step.kind === 'mixed') throw step.error;
        if (step.kind !== 'armed') {
          mine = drop(ctx, mine); // deleted under us, or our session is gone: re-enter fresh
          continue;
        }
        ctx.conn.logger.debug({ event: LogEvent.Waiting, election: ctx.name, id: ctx.id, key: current.key, on: step.on }, 'waiting');
        const by = await waitArmed(ctx.conn, step.armed, stop);
        const touched = by === 'own' ? { touched: true } : {};
        ctx.conn.logger.debug({ event: LogEvent.Wake, election: ctx.name, id: ctx.id, key: current.key, ...touched }, 'woken: re-reading the queue');
      } catch (error) {
        if (stop.aborted) throw abortReason(stop, 'The campaign');
        if (!retryable(error)) throw error;
        if (isElectError(error) && error.code === ErrorCode.SessionExpired) ctx.conn.sessionExpired(session);
        // Otherwise unreachable: ready() waits for the connection to heal.
      }
    }
  } catch (error) {
    if (mine) await removeEntry(ctx.conn, mine.key, mine.session).catch(() => {});
    drop(ctx, mine);
    throw error;
  }
}

/** One turn of a plain campaign: lead if first, else where to wait. */
function plainTurn(ctx: CampaignContext, store: Store, mine: Mine): Position | { kind: 'claimed'; handle: LeadershipHandle } {
  const position = store.position(mine.key, mine.session.id);
  if (position.kind !== 'first') return position;
  return { kind: 'claimed', handle: ctx.claim(store, mine.key, mine.token, mine.session) };
}

/**
 * One turn of a priority campaign (core's `priorityStep`), in one request:
 * lead if the record is, or becomes, ours; else where to wait.
 */
function priorityTurn(ctx: CampaignContext, store: Store, mine: Mine): Position | { kind: 'claimed'; handle: LeadershipHandle } | undefined {
  const position = store.position(mine.key, mine.session.id);
  if (position.kind === 'gone') return position;
  const { entries, record } = store.reading(ctx.name);
  const step = priorityStep(ctx.name, entries, record, mine.key);
  if (mine.fresh && (step.kind === 'wait' || step.kind === 'wait-record' || step.kind === 'take')) {
    // We may have sorted in ahead of a waiting candidate: it re-reads and waits on us.
    const next = behind(entries, record, mine.key);
    if (next) store.touchEntry(next.key);
  }
  mine.fresh = false;
  let token: bigint | undefined;
  switch (step.kind) {
    case 'gone':
    case 'mixed':
      return step;
    case 'wait':
      return { kind: 'behind', predecessor: step.ahead.key };
    case 'wait-record':
      return { kind: 'behind', predecessor: recordKey(ctx.name) };
    case 'lead':
      token = store.recordToken(ctx.name, mine.key);
      break;
    case 'take':
      token = store.take(ctx.name, mine.key, mine.session.id);
      break;
    case 'take-over':
      token = store.takeOver(ctx.name, mine.key, mine.session.id);
      // The candidate behind us waited on our entry, a holder's now: it re-reads.
      if (token !== undefined) {
        const next = behind(entries, record, mine.key);
        if (next) store.touchEntry(next.key);
      }
      break;
  }
  return token === undefined ? undefined : { kind: 'claimed', handle: ctx.claim(store, mine.key, token, mine.session) };
}

function drop(ctx: CampaignContext, mine: Mine | undefined): undefined {
  if (mine) ctx.entry(mine.key, false);
  return undefined;
}

/** Watches set in the request that read the queue; `fired` resolves on the first of them, saying which. */
export interface Armed {
  readonly fired: Promise<'ahead' | 'own'>;
  cancel(): void;
}

/**
 * Inside a request: watches `key` for its deletion (the record: for any
 * change) and `own`, if given, for a touch or its deletion.
 */
export function arm(conn: ConnectionLink, store: Store, key: string, own: string | undefined): Armed {
  let fire: (by: 'ahead' | 'own') => void = () => {};
  const fired = new Promise<'ahead' | 'own'>((resolve) => (fire = resolve));
  const ahead = store.watchDeletion(key, conn.deliver, () => fire('ahead'));
  const watches = [ahead];
  if (own !== undefined) watches.push(store.watchTouch(own, conn.deliver, () => fire('own')));
  for (const watch of watches) if (!watch.exists) fire(watch === ahead ? 'ahead' : 'own');
  return { fired, cancel: () => watches.forEach((watch) => watch.cancel()) };
}

/**
 * Resolves when an armed watch fires (saying which), or on any connection
 * event after which the queue must be re-read (session lost or replaced,
 * healed). Rejects when `stop` aborts or the connection closes. The watches
 * go either way.
 */
export async function waitArmed(conn: ConnectionLink, armed: Armed, stop: AbortSignal): Promise<'ahead' | 'own' | 'event'> {
  const aborted = whenAborted(stop);
  let off: () => void = () => {};
  const event = new Promise<'event'>((resolve, reject) => {
    off = conn.on((e) => {
      if (e.type === 'closed') reject(new ClosedError('the connection is closed'));
      else if (e.type !== 'suspended' && e.type !== 'resumed') resolve('event');
    });
  });
  try {
    return await Promise.race([armed.fired, event, aborted.promise.then(() => Promise.reject(abortReason(stop, 'The campaign')))]);
  } finally {
    armed.cancel();
    off();
    aborted.dispose();
  }
}

/** Resolves when `key` is deleted (the record: changed); see `waitArmed`. */
export async function waitForDeletion(conn: ConnectionLink, key: string, stop: AbortSignal): Promise<void> {
  const armed = conn.callSync((store) => arm(conn, store, key, undefined));
  await waitArmed(conn, armed, stop);
}

/**
 * Deletes our entry. Resolves once it is deleted or known to go with its
 * session (expired, given up at the deadline, or the connection closed);
 * while the server cannot be reached it waits for the next connection event,
 * so it is bounded by the session's loss deadline.
 */
export async function removeEntry(conn: ConnectionLink, key: string, session: ClientSession): Promise<void> {
  for (;;) {
    if (conn.isClosed || session.liveness.isEnded) return;
    try {
      await conn.call((store) => store.remove(key, session.id));
      return;
    } catch (error) {
      if (!isElectError(error) || error.code !== ErrorCode.Connection) throw error;
      await conn.nextEvent();
    }
  }
}

function retryable(error: unknown): boolean {
  return isElectError(error) && (error.code === ErrorCode.Connection || error.code === ErrorCode.SessionExpired);
}
