/**
 * One campaign, from joining the queue to the end of its leadership. Its
 * state moves only through core's candidate state machine (idle →
 * campaigning → leader ⇄ suspended → lost), and events are emitted from that
 * one transition hook, so they fire on change only.
 *
 * Joining is Go's Campaign: one create-if-absent transaction on
 * `name/<lease hex>`, then waiting for our turn. A session (lease) that ends
 * while we wait does not fail the campaign: we join again with a fresh key on
 * the next lease (the old key goes with the old lease). Leadership then lasts
 * while (1) the session lives — its end, or its loss deadline, ends leadership
 * at once — and (2) our key exists: a guard watches it and tells a deleted key
 * ('deleted') from a revoked lease ('session-expired').
 */
import {
  ClosedError,
  NotLeaderError,
  abortReason,
  type CandidateInfo,
  type CandidateState,
  type LeadershipLostError,
  Backoff,
} from '@elect/core';
import {
  LeadershipHandle,
  LogEvent,
  candidateStateMachine,
  decodeRecord,
  encodePayload,
  encodeRecord,
  followSession,
  handoverTarget,
  linkSignals,
  priorityTag,
  type Passage,
  type StateMachine,
} from '@elect/core/backend';
import { isLeaseNotFound, isTransient } from './errors.js';
import { guardKey, guardRecord } from './guard.js';
import type { ElectionScope, Entry } from './kv.js';
import { idOf, notWaiting, readingOf, type Reading } from './priority.js';
import type { Session } from './session.js';
import { waitForPriorityTurn, waitForTurn } from './wait.js';
import { watch } from './watch.js';

export interface CandidateContext extends ElectionScope {
  name: string;
  /** The queue in election order (a plain election's handover checks that `to` is next). */
  candidates(): Promise<CandidateInfo[]>;
  /** A live session, waiting for the next one if the current one ended. */
  session(signal: AbortSignal): Promise<Session>;
  /** Aborted when the election closes. */
  closed: AbortSignal;
  /** Our state machine's every move (the election turns it into events: core's `ElectionEvents`). */
  transition(id: string, next: CandidateState, previous: CandidateState, loss?: LeadershipLostError): void;
}

const noop = (): void => {};

export class Candidate {
  readonly machine: StateMachine<CandidateState>;
  /** Why leadership ended, once it has (for the `lost` event). */
  private loss: LeadershipLostError | undefined;
  private own: { entry: Entry; session: Session } | undefined;
  /** A create sent whose answer has not come (yet): it may have been applied. */
  private joining: { key: string; session: Session; settled: Promise<void> } | undefined;
  private handle: LeadershipHandle | undefined;
  private stopGuard: () => void = () => {};
  private removal: Promise<void> | undefined;
  private running: Promise<void> = Promise.resolve();
  /** A priority election's record while we hold it: the revision of our last confirmed write (the fast path of its deletion). */
  private recordRevision: bigint | undefined;

  constructor(
    private readonly ctx: CandidateContext,
    readonly id: string,
    private value: string,
    private readonly signal: AbortSignal | undefined,
    /** This connection's slot in the election: our key is `name/<lease hex>`, or `name/<lease hex>-<slot>` for slot > 0. */
    private readonly slot = 0,
    /** Set in a priority election: our key carries it (see priority.ts). */
    private readonly rank?: { priority: number; preempt: boolean },
  ) {
    this.machine = candidateStateMachine((next, previous) => this.changed(next, previous));
  }

  /** True while campaigning or leading: our slot is taken. */
  get active(): boolean {
    const kind = this.machine.state.kind;
    return kind === 'campaigning' || kind === 'leader' || kind === 'suspended';
  }

  /**
   * True while our slot's key name may still be ours: campaigning or
   * leading, or holding a key (or a create whose answer never came) on a
   * live session that no deletion is under way for yet — a leadership that
   * yielded keeps its key, and in a priority election the record naming it,
   * until it resigns or a session timeout later. A campaign that reused the
   * slot then would find that key as its own (and the record naming it: the
   * old term's token), and the old release would delete the new key.
   */
  get busy(): boolean {
    if (this.active) return true;
    if (this.removal) return false; // the next one in the slot waits for it (`cleanup`)
    const session = this.own?.session ?? this.joining?.session;
    return session !== undefined && !session.ended;
  }

  get leadership(): LeadershipHandle | undefined {
    return this.handle;
  }

  /** Settles (never rejects) once a deletion of our key in progress is over. */
  get cleanup(): Promise<void> {
    return (this.removal ?? Promise.resolve()).catch(() => {});
  }

  /** True while a key of ours may still exist on a live session (a delete that failed for good leaves it). */
  get holdsKey(): boolean {
    return this.own !== undefined && !this.own.session.ended;
  }

  /**
   * Campaigns; `previous` is this slot's previous candidate, whose resign may
   * still be deleting the same key name — we take the slot at once but write
   * only after that delete, and not at all if it failed for good.
   */
  campaign(previous?: Candidate): Promise<LeadershipHandle> {
    this.machine.transition({ kind: 'campaigning' });
    const running = this.run(previous);
    this.running = running.then(
      () => undefined,
      () => undefined,
    );
    return running;
  }

  private async run(previous: Candidate | undefined): Promise<LeadershipHandle> {
    const user = this.signal ?? new AbortController().signal;
    // Linked, not AbortSignal.any, and released when the campaign settles: the
    // caller's signal, the election's and a session's outlive one campaign.
    const linked = linkSignals([user, this.ctx.closed]);
    const stop = linked.signal;
    try {
      await previous?.cleanup;
      if (previous?.holdsKey) {
        // Its key (another term's, with that term's token) is still under the
        // name we would write: not ours to take, nor to delete.
        throw new Error(`${this.id}: the previous campaign in this slot could not delete its key; it goes with the connection's lease — campaign again once it has, or on another connection`);
      }
      for (;;) {
        const session = await this.ctx.session(stop);
        const during = linkSignals([stop, session.signal]);
        try {
          const entry = await this.join(session, during.signal);
          const turn = this.rank ? await waitForPriorityTurn(this.ctx, entry, during.signal) : await waitForTurn(this.ctx, entry, during.signal);
          if (turn.kind === 'mixed') throw turn.error;
          if (turn.kind === 'gone' || session.ended) continue;
          // The election may have closed (or the caller aborted) while our last
          // read was in flight: then we must not lead — close() has already
          // ended whatever leadership it could see and only waits for us.
          stop.throwIfAborted();
          return turn.kind === 'lead' ? this.lead(session, entry, turn.reading.revision, turn) : this.lead(session, entry, turn.revision);
        } catch (error) {
          // The session ended under us: join again on the next one.
          if (session.signal.aborted && !stop.aborted) continue;
          throw error;
        } finally {
          during.release();
        }
      }
    } catch (error) {
      await this.removeOwn().catch((e: unknown) => this.removeFailed(e));
      if (this.ctx.closed.aborted) {
        this.machine.transition({ kind: 'closed' });
        throw new ClosedError(`${this.id}: the election was closed while campaigning`, { cause: error });
      }
      this.machine.transition({ kind: 'idle' });
      if (user.aborted) throw abortReason(user, `${this.id}: the campaign`);
      throw error;
    } finally {
      linked.release();
    }
  }

  /**
   * The election closes: a campaign in progress sees the election's signal and
   * rejects; a leadership ends with 'closed'. Resolves once our key is deleted.
   *
   * `closed` is terminal, so it comes only after leadership has ended: losing
   * detaches us from the session and the key guard, and nothing can tell a
   * closed candidate that it lost (the connection revokes the lease after
   * closing its elections). The campaign cannot lead once the election's
   * signal has aborted; losing again after it settled keeps that order even
   * if it somehow did.
   */
  async close(): Promise<void> {
    this.handle?.lose('closed');
    await this.running;
    this.handle?.lose('closed');
    // A leadership that yielded (preempted, asked to hand over) but has not
    // released yet releases now, as resign() would (and its timer stops).
    await this.handle?.resign().catch((e: unknown) => this.removeFailed(e));
    await this.removeOwn().catch((e: unknown) => this.removeFailed(e));
    if (this.machine.can('closed')) this.machine.transition({ kind: 'closed' });
  }

  /** Go's Campaign transaction, retried while the failure is transient (it is idempotent). */
  private async join(session: Session, signal: AbortSignal): Promise<Entry> {
    const tag = this.rank ? `.${priorityTag(this.rank.priority, this.rank.preempt)}` : '';
    const key = `${this.ctx.kv.prefix}${session.hex}${this.slot === 0 ? '' : `-${this.slot}`}${tag}`;
    const payload = encodePayload(this.id, this.value);
    // We join again after our key vanished or our session ended: the key we
    // held is gone, and must not pass for the one this join creates.
    this.own = undefined;
    this.recordRevision = undefined;
    const backoff = new Backoff({ maxMs: 1000 });
    // True once a create of ours may have landed without our hearing of it.
    let unanswered = false;
    for (;;) {
      signal.throwIfAborted();
      try {
        const create = this.ctx.kv.create(key, payload, session.leaseId);
        this.joining = { key, session, settled: create.then(noop, noop) };
        const { entry, created } = await create;
        this.joining = undefined;
        // Go adopts whatever key it finds under its name. We take only the
        // one this join wrote (created now, or by an attempt whose answer
        // was lost): any other is another term's, with its token (and maybe
        // a record naming it); leading with it would hand out that token
        // twice. (A key left by this slot's previous candidate is refused
        // before the first attempt: see run().)
        if (entry.lease !== session.leaseId) {
          throw new Error(`${key} exists on another lease (${entry.lease}); refusing to use it`);
        }
        if (!created && !(unanswered && entry.value === payload)) {
          throw new Error(`${key} exists already, and this campaign did not write it (a key left by an earlier campaign on this connection whose removal failed?); refusing to use it — it goes with the connection's lease`);
        }
        this.own = { entry, session };
        return entry;
      } catch (error) {
        // Our lease is gone (revoked while we waited): end the session; the campaign joins on the next one.
        if (isLeaseNotFound(error)) session.expire();
        signal.throwIfAborted();
        if (!isTransient(error)) throw error;
        unanswered = true;
      }
      await backoff.wait(this.ctx.clock, signal);
    }
  }

  /** Leads: with our key's create revision as token, or in a priority election the record's (`record`). */
  private lead(session: Session, entry: Entry, revision: bigint, record?: { token: bigint; reading: Reading }): LeadershipHandle {
    const token = record?.token ?? entry.createRevision;
    this.recordRevision = record?.token;
    const handle = new LeadershipHandle({
      id: this.id,
      value: this.value,
      token,
      key: entry.key,
      deadline: session.liveness.deadline,
      backend: {
        remove: () => this.removeOwn(),
        proclaim: (value) => this.proclaim(value),
        ...(record
          ? { handover: (to: string | undefined, lose: () => void, why: Passage) => this.handOver(to, lose, why) }
          : { candidates: () => this.ctx.candidates() }),
      },
      onLost: (error) => this.lost(error),
    });
    this.handle = handle;
    this.machine.transition({ kind: 'leader', token });
    // The key guard starts once our caller holds the leadership: a deletion
    // since `revision` is seen all the same (a read once its watch exists,
    // guard.ts), and opening it is not on the way to leading.
    let stopKey = noop;
    const guarding = setImmediate(() => {
      stopKey = guardKey(this.ctx, entry, revision, session, (reason) => {
        // Our key was deleted (an operator forcing a failover): in a priority
        // election our record goes too, at once, as a plain leader's key would.
        if (handle.lose(reason) && record) void this.removeOwn().catch((e: unknown) => this.removeFailed(e));
      });
    });
    const stopRecord = record
      ? guardRecord(this.ctx, entry, token, record.reading, {
          lose: (reason) => handle.lose(reason),
          yieldTo: (reason, to) => handle.yieldTo(reason, to, this.ctx.clock, handle.timeoutMs),
        })
      : noop;
    // (At once too: the session may have changed since our last read.)
    const offSession = followSession(session.liveness, this.machine, (reason) => handle.lose(reason));
    this.stopGuard = () => {
      offSession();
      clearImmediate(guarding);
      // The guards' watches are cancelled once this turn's writes are out: a
      // resign's delete, which the next leader waits for, goes first (in a
      // cold leader the cancels took 0.4-1.3 ms, traced). Until then a guard
      // that wakes finds leadership lost: its lose() does nothing.
      setImmediate(() => {
        stopKey();
        stopRecord();
      });
    };
    if (!handle.isLeader) this.stopGuard(); // lost at once: `lost()` ran before there was a guard to stop
    return handle;
  }

  /**
   * `LeadershipBackend.handover` (priority elections): find `to` waiting (or
   * the first waiting one), end our leadership, rewrite the record to
   * `{ holder, to, why }` (guarded by its
   * revision), wake `to` by touching its key, then wait — at most one
   * session timeout — until it took over or left, and remove what is left.
   */
  private async handOver(to: string | undefined, lose: () => void, why: Passage): Promise<void> {
    const own = this.own;
    const handle = this.handle;
    if (!own || !handle || this.recordRevision === undefined) throw new NotLeaderError(`${this.id} is not the leader`);
    const { revision, entries } = await this.ctx.kv.list();
    const reading = readingOf(this.ctx.kv, revision, entries);
    const target = handoverTarget(reading.entries, own.entry.key, idOf, to);
    if (!target) throw notWaiting(to ?? '(any)', this.ctx.name);
    lose();
    // The watch for the take-over is in place before the mark goes out: one
    // created after it would be behind the store, and hear the take-over
    // only from etcd's catch-up loop, up to 100 ms later (watch.ts).
    const watching = new AbortController();
    let created = (): void => {};
    const ready = new Promise<void>((resolve) => (created = resolve));
    const taken = this.takenOver(target.key, revision, handle.timeoutMs, watching.signal, created).catch(() => {});
    await Promise.race([ready, taken]);
    const record = encodeRecord({ holder: own.entry.key, to: target.key, why });
    const marked = await this.ctx.kv.markRecord(this.recordRevision, record, own.session.leaseId).catch(() => undefined);
    if (marked !== undefined) {
      this.recordRevision = marked;
      // A waiting candidate watches its own key for a touch (what it waits on may be stale).
      await this.ctx.kv.touch(target.entry).catch(() => {});
    } else {
      watching.abort();
    }
    await taken;
    await this.removeOwn();
  }

  /**
   * Resolves once the record no longer hands over to `target` or `target`'s
   * key is gone (since `revision`), or after `limitMs`, or when `stop` aborts
   * or the election closes. `created` is called once the watch is in place.
   */
  private async takenOver(target: string, revision: bigint, limitMs: number, stop: AbortSignal, created: () => void): Promise<void> {
    const limit = new AbortController();
    const cancel = this.ctx.clock.schedule(() => limit.abort(), limitMs);
    const range = this.ctx.keys.prefixRange(this.ctx.kv.prefix);
    const joined = linkSignals([limit.signal, this.ctx.closed, stop]);
    const spec = { key: range.key, rangeEnd: range.range_end, fromRevision: revision + 1n, signal: joined.signal, onCreated: created };
    try {
      for await (const batch of watch(this.ctx, spec)) {
        for (const event of batch.events) {
          const key = this.ctx.keys.local(event.key);
          if (key === target && event.type === 'delete') return;
          if (key === this.ctx.kv.recordKey && (event.type === 'delete' || decodeRecord(event.value.toString())?.to !== target)) return;
        }
      }
    } finally {
      cancel();
      joined.release();
    }
  }

  private async proclaim(value: string): Promise<void> {
    const own = this.own;
    const handle = this.handle;
    if (!own || !handle) throw new NotLeaderError(`${this.id} is not the leader`);
    const payload = encodePayload(this.id, value);
    let written: boolean;
    try {
      written = await this.ctx.kv.proclaim(own.entry.key, own.entry.createRevision, payload, own.session.leaseId);
    } catch (error) {
      if (!isLeaseNotFound(error)) throw error;
      own.session.expire();
      throw new NotLeaderError(`${this.id}: our lease is gone; leadership is lost`, { cause: error });
    }
    if (!written) {
      handle.lose('deleted');
      throw new NotLeaderError(`${this.id}: our key ${own.entry.key} is gone; leadership is lost`);
    }
    this.value = value;
  }

  private lost(error: LeadershipLostError): void {
    this.stopGuard();
    const handle = this.handle;
    if (!handle) return;
    this.ctx.logger[error.reason === 'resigned' || error.reason === 'closed' ? 'info' : 'warn'](
      { event: LogEvent.Lost, id: this.id, token: String(handle.token), reason: error.reason },
      `leadership lost: ${error.reason}`,
    );
    this.loss = error;
    this.machine.transition({ kind: 'lost', reason: error.reason });
  }

  /**
   * Deletes our key (guarded by its create revision), retrying transient
   * failures until it is gone or its session has ended — then the key goes
   * with the lease (revoked by us, or expired by the server). Rejects on an
   * error retrying cannot fix (e.g. permission denied); calling it again
   * tries again.
   */
  private removeOwn(): Promise<void> {
    this.removal ??= this.deleteOwn().finally(() => (this.removal = undefined));
    return this.removal;
  }

  private async deleteOwn(): Promise<void> {
    if (!this.own && this.joining) await this.withdrawUnanswered(this.joining);
    const own = this.own;
    if (!own) return;
    const backoff = new Backoff({ maxMs: 1000 });
    while (!own.session.ended) {
      try {
        // A priority candidate's record goes too while it is ours.
        if (this.rank) await this.ctx.kv.removeWithRecord(own.entry, this.recordRevision ?? 0n);
        else await this.ctx.kv.remove(own.entry.key, own.entry.createRevision);
        break;
      } catch (error) {
        if (!isTransient(error)) throw error;
      }
      await backoff.wait(this.ctx.clock);
    }
    if (this.own === own) this.own = undefined;
  }

  /**
   * A create whose answer never came (its deadline passed) may still have
   * been applied: then our key sits on our live lease, first in the queue
   * one day with nobody leading. Wait until the create has settled (a late
   * answer makes it ours, removed as usual), else delete the key if it is on
   * our lease, retrying until that is known or the session has ended.
   */
  private async withdrawUnanswered(joining: { key: string; session: Session; settled: Promise<void> }): Promise<void> {
    await joining.settled;
    if (this.joining === joining) this.joining = undefined;
    if (this.own) return;
    this.ctx.logger.info({ event: 'campaign-withdraw', id: this.id, key: joining.key }, 'withdrawing a campaign key whose create was never answered');
    const backoff = new Backoff({ maxMs: 1000 });
    while (!joining.session.ended) {
      try {
        await this.ctx.kv.removeOnLease(joining.key, joining.session.leaseId);
        return;
      } catch (error) {
        if (!isTransient(error)) throw error;
      }
      await backoff.wait(this.ctx.clock);
    }
  }

  private removeFailed(error: unknown): void {
    this.ctx.logger.error({ event: 'remove-failed', id: this.id, err: String(error) }, 'could not delete our key; it goes with the lease');
  }

  /** Our key while we hold one (so the election does not report our own election as someone else's). */
  get key(): string | undefined {
    return this.own?.entry.key;
  }

  /** Events on change only: this is the machine's one transition hook. */
  private changed(next: CandidateState, previous: CandidateState): void {
    if (next.kind === 'leader' && previous.kind === 'campaigning') {
      this.ctx.logger.info({ event: LogEvent.Elected, id: this.id, token: String(next.token) }, 'elected');
    }
    this.ctx.transition(this.id, next, previous, this.loss);
  }
}
