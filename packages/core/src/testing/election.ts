/**
 * `Election` on an in-memory connection. Leaderships are `LeadershipHandle`s
 * whose deadline is the session's `LossDeadline`, so loss is decided on the
 * client's clock exactly as on the real backends; this class only maps
 * connection events onto them (deadline, expiry, deletion, close) and onto
 * the candidates' state machines, whose changes become `events()`.
 */
import type { CampaignOptions, CandidateInfo, CandidateState, Election, ElectionEvent, HandoverOptions, LeaderInfo, Leadership, SignalOptions } from '../contract.js';
import { ClosedError, InvalidOptionError, abortReason, type LeadershipLostError } from '../errors.js';
import { LeadershipHandle } from '../leadership.js';
import { LogEvent } from '../logger.js';
import { followSession } from '../liveness.js';
import { campaignOptions, candidateValue, handoverOptions, readOptions, textOption } from '../options.js';
import { encodePayload } from '../payload.js';
import { handedOver, handoverTarget, noneWaiting, preemptor, type Passage } from '../priority.js';
import { candidateStateMachine, type StateMachine } from '../state.js';
import { ElectionEvents } from '../events.js';
import { Channel } from '../stream.js';
import { linkSignals } from '../wait.js';
import { arm, campaignLoop, removeEntry, waitArmed, waitForDeletion, type Armed } from './campaign.js';
import type { ClientSession, ConnectionEvent, ConnectionLink } from './link.js';
import { observeLeader } from './observe.js';
import { recordChangeKey, recordKey, type Store } from './store.js';

interface Held {
  readonly session: ClientSession;
  readonly key: string;
  /** Our entry is gone: leadership is lost (and a priority election's record released). */
  readonly deleted: () => void;
  /** A priority election: look at the record and the queue again (after a cut). */
  readonly recheck?: () => void;
}

/** The in-memory `Election`; see `MemoryConnection#election()`. */
export class MemoryElection implements Election {
  readonly name: string;
  private readonly closer = new AbortController();
  private closing: Promise<void> | undefined;
  private readonly electionEvents: ElectionEvents;
  /** Observers running (see `observe`). */
  private observers = 0;
  private readonly campaigns = new Set<Promise<unknown>>();
  private readonly held = new Map<LeadershipHandle, Held>();
  /** Leaderships that yielded (preempted, asked to hand over) and may not have released yet: close() resigns them too. */
  private readonly yielding = new Set<LeadershipHandle>();
  /** Keys of our entries, waiting or leading: a leader among them is us, not a `leader` event. */
  private readonly ownKeys = new Set<string>();

  /**
   * @internal Use `MemoryConnection#election()`. Nothing is subscribed or
   * watched until something runs on it: the connection holds its elections
   * weakly and tells them of its events (`onConnection`), so a handle
   * dropped after reading is garbage like any object.
   */
  constructor(
    private readonly conn: ConnectionLink,
    name: string,
    /** Called once closed: the connection lets go of it. */
    private readonly closed: () => void = () => {},
  ) {
    this.name = textOption('name', name, 1024);
    this.electionEvents = new ElectionEvents({
      // The leader feed is an observer of our own, held while someone listens.
      leaders: (signal) => observeLeader(this.conn, this.name, signal, this.closer.signal),
      isOurs: (key) => this.ownKeys.has(key),
    });
  }

  async campaign(options: CampaignOptions): Promise<Leadership> {
    const { id, value, signal, priority, preempt } = campaignOptions(options);
    this.assertOpen();
    if (signal?.aborted) throw abortReason(signal, 'The campaign');
    let loss: LeadershipLostError | undefined;
    const machine = candidateStateMachine((next, previous) => {
      if (next.kind === 'leader' && previous.kind === 'campaigning') {
        this.conn.logger.info({ event: LogEvent.Elected, election: this.name, id, token: String(next.token) }, 'elected');
      }
      this.electionEvents.transition(id, next, previous, loss);
    });
    machine.transition({ kind: 'campaigning' });
    // Released once the campaign settles (campaignLoop is async: it cannot
    // throw before that): the caller's signal and ours live on.
    const stop = linkSignals([signal, this.closer.signal]);
    const run = campaignLoop(
      {
        conn: this.conn,
        name: this.name,
        id,
        payload: encodePayload(id, value),
        rank: priority === undefined ? undefined : { priority, preempt },
        claim: (store, key, token, session) => this.claim(store, { id, value, key, token, session, machine, lost: (error) => (loss = error) }),
        entry: (key, present) => (present ? this.ownKeys.add(key) : this.ownKeys.delete(key)),
      },
      stop.signal,
    );
    this.campaigns.add(run);
    try {
      return await run;
    } catch (error) {
      machine.transition(this.closer.signal.aborted || this.conn.isClosed ? { kind: 'closed' } : { kind: 'idle' });
      throw error;
    } finally {
      this.campaigns.delete(run);
      stop.release();
    }
  }

  async leader(options?: SignalOptions): Promise<LeaderInfo | undefined> {
    this.beginRead('leader()', options);
    return this.conn.call((store) => store.leader(this.name));
  }

  async candidates(options?: SignalOptions): Promise<CandidateInfo[]> {
    this.beginRead('candidates()', options);
    return this.conn.call((store) => store.list(this.name));
  }

  async handover(options: HandoverOptions & { to: string }): Promise<LeaderInfo> {
    const { to, signal } = handoverOptions('handover()', options, true) as { to: string; signal: AbortSignal | undefined };
    this.assertOpen();
    // Follow the leader from before the request, so that its change is seen.
    const seen = this.observe(signal ? { signal } : {});
    const done = new AbortController();
    try {
      const asked = await this.conn.call((store) => {
        if (!store.isPriority(this.name)) throw notPriority(this.name);
        const leader = store.leader(this.name);
        if (!leader) throw new InvalidOptionError('to', `nobody leads election ${JSON.stringify(this.name)}: there is nothing to hand over`);
        if (leader.id === to) return leader;
        if (!this.waiting(store, to)) throw notWaiting(to, this.name);
        // Ours: it goes with our session (the holder deletes it when it acts).
        store.request(this.name, { to, token: leader.token }, this.conn.session?.id);
        return leader;
      });
      if (asked.id === to) return asked;
      const stop = linkSignals([signal, done.signal]).signal; // released when `done` aborts, below
      // Each waiting `to` found is watched in the request that found it.
      const find = async (): Promise<Armed | undefined> =>
        this.conn.callSync((store) => {
          const target = this.waiting(store, to);
          return target && arm(this.conn, store, target.key, undefined);
        });
      const gone = noneWaiting(find, (armed) => waitArmed(this.conn, armed, stop).then(() => true));
      const led = await handedOver(seen, asked, to, { gone, leader: () => this.leader(signal ? { signal } : {}) });
      if (led) return led;
      throw abortReason(signal ?? this.closer.signal, 'The handover');
    } finally {
      done.abort();
      void seen[Symbol.asyncIterator]().return?.();
    }
  }

  /** The waiting candidate `to` (by id, the holder aside), as the leader would find it. */
  private waiting(store: Store, to: string): { key: string } | undefined {
    const { entries } = store.reading(this.name);
    const holder = store.leader(this.name)?.key ?? '';
    return handoverTarget(entries, holder, (e) => store.idOf(e.key) ?? '', to);
  }

  observe(options?: SignalOptions): AsyncIterable<LeaderInfo | undefined> {
    // Counted through a callback of ours: what the connection holds for the
    // observer (its listener, the store's watch) then holds this election,
    // which the connection must reach to end the observer on close.
    this.observers += 1;
    return observeLeader(this.conn, this.name, readOptions('observe()', options), this.closer.signal, () => (this.observers -= 1));
  }

  events(options?: SignalOptions): AsyncIterable<ElectionEvent> {
    const signal = readOptions('events()', options);
    if (this.closer.signal.aborted || this.conn.isClosed) {
      const ended = new Channel<ElectionEvent>();
      if (this.conn.isClosed && !this.closer.signal.aborted) ended.fail(new ClosedError('the connection is closed'));
      else ended.close();
      return ended;
    }
    return this.electionEvents.subscribe(signal);
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closer.abort(new ClosedError(`the election ${this.name} is closed`));
    const removals = [...this.held.keys(), ...this.yielding].map((handle) => {
      handle.lose('closed');
      return handle.resign();
    });
    await Promise.allSettled([...this.campaigns, ...removals]);
    this.electionEvents.close();
    this.closed();
  }

  private claim(
    store: Store,
    c: { id: string; value: string; key: string; token: bigint; session: ClientSession; machine: StateMachine<CandidateState>; lost: (error: LeadershipLostError) => void },
  ): LeadershipHandle {
    const { id, key, token, session, machine } = c;
    const priority = store.isPriority(this.name);
    const stopWatching = new AbortController();
    let unfollow: () => void = () => {};
    const handle: LeadershipHandle = new LeadershipHandle({
      id,
      value: c.value,
      token,
      key,
      deadline: session.liveness.deadline,
      backend: {
        remove: () => this.removeHeld(key, session),
        proclaim: async (value) => {
          const payload = encodePayload(id, candidateValue(value));
          await this.conn.call((s) => s.put(key, session.id, payload));
        },
        ...(priority
          ? { handover: (to: string | undefined, lose: () => void, why: Passage) => this.handOver(key, session, to, lose, why, handle.timeoutMs) }
          : { candidates: () => this.candidates() }),
      },
      onLost: (error) => {
        stopWatching.abort();
        unfollow();
        this.held.delete(handle);
        this.ownKeys.delete(key);
        c.lost(error);
        this.lost(id, token, machine, error);
      },
    });
    const deleted = (): void => {
      // Our entry was deleted (an operator forcing a failover): in a priority
      // election our record goes too, at once, as the entry of a plain leader did.
      if (handle.lose('deleted') && priority) void this.conn.call((s) => s.release(this.name, key, session.id)).catch(() => {});
    };
    const cancelWatch = store.watchDeletion(key, this.conn.deliver, deleted).cancel;
    stopWatching.signal.addEventListener('abort', cancelWatch, { once: true });
    const recheck = priority ? this.guardRecord(store, handle, session, stopWatching.signal) : undefined;
    this.held.set(handle, { session, key, deleted, ...(recheck ? { recheck } : {}) });
    machine.transition({ kind: 'leader', token });
    unfollow = followSession(session.liveness, machine, (reason) => handle.lose(reason));
    if (!handle.isLeader) unfollow();
    return handle;
  }

  /**
   * A priority election's leader follows its record (gone or no longer ours:
   * 'deleted') and its queue: a waiting candidate that preempts us, or a
   * handover asked for through `handover()`, makes us yield. Returns what to
   * look at again after a cut (whose notifications were lost).
   */
  private guardRecord(store: Store, handle: LeadershipHandle, session: ClientSession, stop: AbortSignal): () => void {
    const key = handle.key;
    let cancelRecord: () => void = () => {};
    stop.addEventListener('abort', () => cancelRecord(), { once: true });
    const recordChanged = (): void => {
      if (stop.aborted) return;
      cancelRecord();
      this.conn.callSync((s) => {
        if (s.recordToken(this.name, key) !== handle.token) return void handle.lose('deleted');
        cancelRecord = s.watchDeletion(recordKey(this.name), this.conn.deliver, recordChanged).cancel;
      });
    };
    cancelRecord = store.watchDeletion(recordKey(this.name), this.conn.deliver, recordChanged).cancel;
    const queueChanged = (): void => {
      if (stop.aborted) return;
      void this.conn
        .call((s) => {
          const { entries } = s.reading(this.name);
          if (preemptor(entries, key)) return { reason: 'preempted' as const, to: undefined };
          const request = s.pendingRequest(this.name);
          if (request === undefined || s.recordToken(this.name, key) !== handle.token) return undefined;
          s.request(this.name, undefined);
          if (request.token !== handle.token || !handoverTarget(entries, key, (e) => s.idOf(e.key) ?? '', request.to)) return undefined;
          return { reason: 'handover' as const, to: request.to };
        })
        .then((step) => {
          if (step && handle.yieldTo(step.reason, step.to, this.conn.clock, handle.timeoutMs)) this.yielding.add(handle);
        })
        .catch(() => {}); // unreachable now: the next change or the session decides
    };
    const offQueue = store.watchQueue(this.name, this.conn.deliver, queueChanged);
    stop.addEventListener('abort', offQueue, { once: true });
    queueChanged();
    return () => {
      recordChanged();
      queueChanged();
    };
  }

  /** Our entry and, in a priority election, our record: gone together. */
  private async removeHeld(key: string, session: ClientSession): Promise<void> {
    await this.conn.call((s) => s.release(this.name, key, session.id)).catch(() => {});
    await removeEntry(this.conn, key, session);
  }

  /** See `LeadershipBackend.handover`: mark the record for `to`, wake it, wait (at most `limitMs`) until it took over, then leave. */
  private async handOver(key: string, session: ClientSession, to: string | undefined, lose: () => void, why: Passage, limitMs: number): Promise<void> {
    const target = await this.conn.call((s) => {
      const { entries } = s.reading(this.name);
      const found = handoverTarget(entries, key, (e) => s.idOf(e.key) ?? '', to);
      if (!found) throw notWaiting(to ?? '(any)', this.name);
      return found;
    });
    lose();
    const marked = await this.conn.call((s) => {
      if (!s.markHandover(this.name, key, session.id, target.key, why)) return false;
      // A waiting candidate watches its own entry for a touch.
      s.touchEntry(target.key);
      return true;
    });
    if (marked) {
      const limit = new AbortController();
      const cancel = this.conn.clock.schedule(() => limit.abort(), limitMs);
      // Closing the election ends the wait too, as on etcd (and a ManualClock
      // that is never advanced cannot hold close() up).
      const until = linkSignals([limit.signal, this.closer.signal]);
      try {
        while (this.conn.callSync((s) => s.reading(this.name).record?.to === target.key && s.idOf(target.key) !== undefined)) {
          await waitForDeletion(this.conn, recordChangeKey(this.name), until.signal);
        }
      } catch {
        // Not taken in time (or the election or the connection is gone): leave, and the next candidate leads.
      } finally {
        cancel();
        until.release();
      }
    }
    await this.removeHeld(key, session);
  }

  private lost(id: string, token: bigint, machine: StateMachine<CandidateState>, error: LeadershipLostError): void {
    machine.transition({ kind: 'lost', reason: error.reason });
    const level = error.reason === 'resigned' || error.reason === 'closed' ? 'info' : 'warn';
    this.conn.logger[level]({ event: LogEvent.Lost, election: this.name, id, token: String(token), reason: error.reason }, error.message);
  }

  /** @internal The connection tells its live elections of its events. */
  onConnection(event: ConnectionEvent): void {
    const held = [...this.held];
    switch (event.type) {
      case 'resync':
        // Deletions announced while we were cut off were lost: re-verify.
        for (const [, h] of held) {
          if (h.session.liveness.isEnded) continue;
          if (this.conn.callSync((s) => s.position(h.key, h.session.id)).kind === 'gone') h.deleted();
          else h.recheck?.();
        }
        break;
      case 'closed':
        for (const [handle] of held) handle.lose('closed');
        this.electionEvents.fail(new ClosedError('the connection was closed'));
        break;
      default:
        // A leader follows its own session (followSession in claim()).
        break;
    }
  }

  private beginRead(where: string, options: SignalOptions | undefined): void {
    const signal = readOptions(where, options);
    this.assertOpen();
    if (signal?.aborted) throw abortReason(signal, where);
  }

  private assertOpen(): void {
    if (this.closer.signal.aborted) throw new ClosedError(`the election ${this.name} is closed`);
    if (this.conn.isClosed) throw new ClosedError('the connection is closed');
  }
}

function notPriority(name: string): InvalidOptionError {
  return new InvalidOptionError('to', `election ${JSON.stringify(name)} is not a priority election: it hands over only to the next candidate (resign)`);
}

function notWaiting(to: string, name: string): InvalidOptionError {
  return new InvalidOptionError('to', `no candidate ${JSON.stringify(to)} is waiting in election ${JSON.stringify(name)}`);
}

