/**
 * The `Leadership` object both backends hand out. A backend creates one when
 * its candidate is confirmed first in the queue, and calls `lose()` when it
 * learns — or its deadline decides — that leadership is over. Everything a
 * user sees (signal, deadline, resign, proclaim) behaves the same on every
 * backend because it lives here.
 */
import type { Clock } from './clock.js';
import type { CandidateInfo, HandoverOptions, Leadership } from './contract.js';
import { InvalidOptionError, LeadershipLostError, NotLeaderError, type LossReason } from './errors.js';
import type { Passage } from './priority.js';
import { aheadLead } from './deadline.js';
import { candidateValue, handoverOptions } from './options.js';

/** What a Leadership needs from its session's loss deadline. */
export interface DeadlineView {
  readonly deadline: number;
  /** The session timeout or lease TTL the deadline counts with. */
  readonly timeoutMs: number;
  /** See `LossDeadline.signalAhead`: the timer goes when `until` aborts. */
  signalAhead(leadMs: number, until?: AbortSignal): AbortSignal;
}

/** The backend's side of a leadership: the writes only it can do. */
export interface LeadershipBackend {
  /** Delete our entry (idempotent; resolves when it is gone or known gone). */
  remove(): Promise<void>;
  /** Write `value` to our entry, guarded so it only succeeds while the entry is ours. */
  proclaim(value: string): Promise<void>;
  /**
   * Priority elections: hand leadership to the waiting candidate whose id is
   * `to` (undefined: the first waiting one in priority order), marking the
   * passage as `why`. Rejects with `InvalidOptionError` (option `to`),
   * before calling `lose`, when no such candidate waits; otherwise calls
   * `lose()` before anything it writes lets the candidate lead, and resolves
   * once it leads, or — when it did not take over in time — once our entry
   * is removed as by `remove()`.
   */
  handover?(to: string | undefined, lose: () => void, why: Passage): Promise<void>;
  /** Plain elections: the queue in election order, to check that a handover goes to the next candidate. */
  candidates?(): Promise<CandidateInfo[]>;
}

export interface LeadershipInit {
  id: string;
  value: string;
  token: bigint;
  key: string;
  deadline: DeadlineView;
  backend: LeadershipBackend;
  /** Called once, synchronously, when leadership ends (for events / state). */
  onLost?: (error: LeadershipLostError) => void;
}

const messages: Record<LossReason, string> = {
  resigned: 'leadership was resigned',
  deadline: 'leadership was given up at the loss deadline: the server has not confirmed our session in time',
  'session-expired': 'the session (or lease) expired',
  deleted: "this candidate's entry was deleted on the server",
  closed: 'the election was closed',
  preempted: 'a candidate of higher priority campaigning with preempt is waiting; leadership passes to it once our work has stopped',
  handover: 'leadership is being handed over to another candidate',
};

export class LeadershipHandle implements Leadership {
  readonly id: string;
  readonly token: bigint;
  readonly key: string;
  private currentValue: string;
  private readonly controller = new AbortController();
  private readonly deadlineView: DeadlineView;
  private readonly backend: LeadershipBackend;
  private readonly onLost: ((error: LeadershipLostError) => void) | undefined;
  private removal: Promise<void> | undefined;
  /** Set when leadership was yielded to another candidate: `resign()` hands over to it rather than removing our entry. */
  private yielded: { to: string | undefined; why: Passage; cancel: () => void } | undefined;
  /** The live signal per lead, however often it is asked for (a supervisor asks on every turn). */
  private readonly aheads = new Map<number, AbortSignal>();

  constructor(init: LeadershipInit) {
    this.id = init.id;
    this.currentValue = init.value;
    this.token = init.token;
    this.key = init.key;
    this.deadlineView = init.deadline;
    this.backend = init.backend;
    this.onLost = init.onLost;
  }

  get value(): string {
    return this.currentValue;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get isLeader(): boolean {
    return !this.controller.signal.aborted;
  }

  get deadline(): number {
    return this.deadlineView.deadline;
  }

  get timeoutMs(): number {
    return this.deadlineView.timeoutMs;
  }

  signalAhead(leadMs: number): AbortSignal {
    const own = this.controller.signal;
    aheadLead(leadMs);
    if (own.aborted) return own;
    // One signal per lead until it aborts; asked again after that (the
    // deadline may have moved on since), a fresh one. Its timer on the
    // deadline goes when it fires or this leadership ends.
    let ahead = this.aheads.get(leadMs);
    if (ahead === undefined || ahead.aborted) {
      ahead = AbortSignal.any([this.deadlineView.signalAhead(leadMs, own), own]);
      this.aheads.set(leadMs, ahead);
    }
    return ahead;
  }

  /**
   * Ends leadership (idempotent): aborts `signal` with a typed reason and
   * tells the backend's listener. Returns false if it had already ended.
   */
  lose(reason: LossReason, cause?: unknown, retryable?: boolean): boolean {
    if (this.controller.signal.aborted) return false;
    const error = new LeadershipLostError(reason, `${this.id}: ${messages[reason]}`, { cause, ...(retryable === undefined ? {} : { retryable }) });
    this.aheads.clear();
    this.controller.abort(error);
    this.onLost?.(error);
    return true;
  }

  resign(): Promise<void> {
    // Stop the work first, then delete: nobody else can become leader before
    // our entry is gone, and by then our signal has already aborted.
    this.lose('resigned');
    return this.release();
  }

  async handover(options?: Pick<HandoverOptions, 'to'>): Promise<void> {
    const { to } = handoverOptions('handover()', options, false);
    if (!this.isLeader) throw new NotLeaderError(`${this.id} cannot hand over: it is no longer the leader`, { cause: this.signal.reason });
    // Our own handover ends leadership as resign() does: not worth campaigning again for.
    const lose = (): boolean => this.lose('handover', undefined, false);
    if (this.backend.handover) {
      // The backend finds `to` (or the next one) first — rejecting, leadership
      // unchanged, when it is not waiting — then ends our leadership before
      // its first write. Nobody waiting for a handover to the next: a resign.
      const backend = this.backend.handover.bind(this.backend);
      const handing = backend(to, lose, 'handover').catch((error: unknown) => {
        if (to !== undefined || !this.isLeader) throw error;
        lose();
        return this.backend.remove();
      });
      this.removal ??= this.settle(handing);
      return this.removal;
    }
    if (to !== undefined) {
      const queue = this.backend.candidates ? await this.backend.candidates() : undefined;
      const at = queue?.findIndex((entry) => entry.key === this.key) ?? -1;
      const next = at >= 0 ? queue?.[at + 1] : undefined;
      if (next?.id !== to) {
        throw new InvalidOptionError(
          'to',
          `${JSON.stringify(to)} is not the next candidate in this election's queue` +
            `${next ? ` (${JSON.stringify(next.id)} is)` : ' (nobody else waits)'}: a plain election hands over only to the next one; ` +
            'campaign with priorities to hand over to any waiting candidate',
        );
      }
    }
    lose();
    return this.release();
  }

  /**
   * Leadership ends because another candidate should lead (preemption, or a
   * handover asked for from elsewhere): the signal aborts now, and our entry
   * goes — handed to `to` (undefined: the next in priority order) — when `resign()` says the work has
   * stopped, or `releaseAfterMs` later on `clock` at the latest (work that
   * ignores its signal cannot hold the election forever). False when
   * leadership had already ended.
   */
  yieldTo(reason: 'preempted' | 'handover', to: string | undefined, clock: Clock, releaseAfterMs: number): boolean {
    if (!this.isLeader) return false;
    const cancel = clock.schedule(() => void this.release().catch(() => {}), releaseAfterMs);
    this.yielded = { to, why: reason, cancel };
    return this.lose(reason);
  }

  /** Removes our entry, or hands it to the candidate leadership was yielded to. Shared while pending; retried after a failure. */
  private release(): Promise<void> {
    if (this.removal) return this.removal;
    const yielded = this.yielded;
    yielded?.cancel();
    const handover = this.backend.handover?.bind(this.backend);
    // Yielded: handed over (to the preemptor's turn, or to whom a handover
    // asked for) so that the new leader's record says how it came to lead;
    // if nobody takes it, removed, and the next one leads.
    const removal = yielded && handover ? handover(yielded.to, () => {}, yielded.why).catch(() => this.backend.remove()) : this.backend.remove();
    this.removal = this.settle(removal);
    return this.removal;
  }

  /** A release that failed (connection trouble) may be retried by calling resign() again; a pending or successful one is shared. */
  private settle(removal: Promise<void>): Promise<void> {
    return removal.catch((error: unknown) => {
      this.removal = undefined;
      throw error;
    });
  }

  /** Rejects with `InvalidOptionError` (option `value`) for a non-string or one over 64 KiB, before writing. */
  async proclaim(value: string): Promise<void> {
    candidateValue(value);
    if (!this.isLeader) throw new NotLeaderError(`${this.id} cannot proclaim: it is no longer the leader`, { cause: this.signal.reason });
    await this.backend.proclaim(value);
    this.currentValue = value;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.resign();
  }
}
