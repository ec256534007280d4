/**
 * The election contract every backend implements. Read with the safety model
 * in the README: at most one leader, loss decided locally before the server
 * can give leadership away, fencing tokens for what clocks cannot promise,
 * nothing leaked, no herd.
 */
import type { LeadershipLostError, LossReason } from './errors.js';

/** One entry of an election's queue, as the server holds it. */
export interface CandidateInfo {
  /** The participant id (ZooKeeper: what Curator calls the participant id; etcd: the proposal). */
  readonly id: string;
  /** The value the candidate proclaimed; equals `id` when it never set one. */
  readonly value: string;
  /**
   * The fencing token: ZooKeeper czxid of the candidate's znode, etcd create
   * revision of its key. Strictly increasing across successive leaders.
   */
  readonly token: bigint;
  /** The backend's name for the entry: znode path or etcd key. */
  readonly key: string;
  /** The candidate's priority, in a priority election (see `CampaignOptions.priority`). */
  readonly priority?: number;
  /** True when the candidate campaigns with `preempt` (priority elections only). */
  readonly preempt?: boolean;
  /**
   * The leader only, in a priority election: how it came to lead when that
   * was not an ordinary succession — it preempted the previous leader, or
   * leadership was handed over to it.
   */
  readonly via?: 'preempted' | 'handover';
}

/** The current leader: the first candidate in the queue. */
export type LeaderInfo = CandidateInfo;

export interface CampaignOptions {
  /** This candidate's id: non-empty, at most 256 characters, no line breaks. */
  id: string;
  /** Initial value (defaults to `id`); changed later with `proclaim()`. */
  value?: string;
  /** Aborting it while the campaign waits rejects with an `AbortError` and removes our entry. */
  signal?: AbortSignal;
  /**
   * Campaign in a priority election: an integer from 0 to 2147483647. When
   * leadership changes hands, the waiting candidate with the highest priority
   * leads next (ties: the one that joined first). A sitting leader keeps
   * leading when a higher priority joins, unless that candidate campaigns
   * with `preempt`. Every candidate of a priority election must have a
   * priority: the layout on the server is not Curator's / etcdctl's, and a
   * campaign that meets the other layout rejects with `MixedLayoutError`.
   */
  priority?: number;
  /**
   * With `priority`: a leader of lower priority steps down for us — its
   * signal aborts with reason `preempted`, and its entry goes once its work
   * has stopped (`resign()`), or at the latest its session timeout later.
   * Only then do we lead. Default false.
   */
  preempt?: boolean;
}

export interface HandoverOptions {
  /**
   * The id of the waiting candidate to lead next. In a priority election any
   * waiting candidate may be chosen; in a plain one only the next in the
   * queue (leaving `to` out hands over to the next, as `resign()` does).
   */
  to?: string;
  /** `election.handover()` only: stop waiting for `to` to lead. */
  signal?: AbortSignal;
}

export interface SignalOptions {
  signal?: AbortSignal;
}

/**
 * Leadership held by one candidate. It is a scope: work started under it takes
 * `signal`, which aborts the moment leadership is lost or resigned.
 */
export interface Leadership extends AsyncDisposable {
  readonly id: string;
  /** The value last proclaimed (initially the campaign's `value`, or `id`). */
  readonly value: string;
  /** Fencing token; hand it to downstream systems so they can reject stale leaders. */
  readonly token: bigint;
  /** The backend's name for our entry: znode path or etcd key. */
  readonly key: string;
  /**
   * Aborted when leadership ends, with a `LeadershipLostError` whose `reason`
   * says why. When the connection is in trouble it aborts at the loss deadline
   * at the latest, before the server can hand leadership to anyone else.
   */
  readonly signal: AbortSignal;
  /** True until `signal` aborts. */
  readonly isLeader: boolean;
  /**
   * The latest moment (ms on the election's clock: by default a monotonic
   * clock reading in epoch milliseconds, close to `Date.now()`)
   * until which leadership is guaranteed if nothing more is heard from the
   * server: lastContact + session timeout (or TTL) − safety margin. Moves
   * forward with every confirmed contact.
   */
  readonly deadline: number;
  /**
   * The session timeout or lease TTL that `deadline` counts with, which may
   * differ from the one asked for: ZooKeeper grants a timeout between its
   * minimum and maximum session timeout, and may shorten it on a reconnect;
   * etcd leases have whole seconds (rounded up). Plan how long the work may
   * take to stop against this, not against the one asked for.
   */
  readonly timeoutMs: number;
  /**
   * An AbortSignal that aborts `leadMs` before the loss deadline — or when
   * leadership ends, whichever comes first; it is aborted already when less
   * than `leadMs` is left as it is asked for (check `.aborted` before
   * starting work). A supervisor uses it to start stopping its work early
   * enough that the work is gone by the deadline, and not to start work it
   * could not stop in time.
   * It does not un-abort when the connection heals; asked for again after
   * that, it is a fresh signal. Until it aborts, asking again with the same
   * `leadMs` returns the same signal, so it may be asked for on every turn
   * of a loop; its timer goes when it fires or leadership ends.
   */
  signalAhead(leadMs: number): AbortSignal;
  /**
   * Gives up leadership and removes our entry from the server. Resolves once
   * the entry is deleted (or known gone). Idempotent; after loss it only
   * cleans up what is left.
   */
  resign(): Promise<void>;
  /**
   * Changes the value that `leader()` and observers see. Rejects with
   * `NotLeaderError` once leadership has ended; the write is guarded so that a
   * stale leader can never overwrite someone else's entry.
   */
  proclaim(value: string): Promise<void>;
  /**
   * Hands leadership to the waiting candidate `to` (or the next one): our
   * signal aborts with reason `handover`, then `to` leads as soon as a
   * `resign()` would let the next one lead. Stop the work before calling it,
   * as before `resign()`; like a resign it is not a loss worth campaigning
   * again for (`runWhileLeader` resolves, as after `resign()`), and the new
   * leader says it came `via: 'handover'`. Rejects with `InvalidOptionError` (option `to`),
   * leadership unchanged, when no candidate of that id waits; and, in a
   * plain election, when `to` is not the next in the queue. Resolves once
   * `to` leads or — if it left meanwhile — our entry is gone and the next
   * candidate may lead.
   */
  handover(options?: Pick<HandoverOptions, 'to'>): Promise<void>;
}

/** The state of one candidate, moved only along legal edges (see `CandidateStateMachine`). */
export type CandidateState =
  | { readonly kind: 'idle' }
  | { readonly kind: 'campaigning' }
  | { readonly kind: 'leader'; readonly token: bigint }
  | { readonly kind: 'suspended'; readonly token: bigint; readonly deadline: number }
  | { readonly kind: 'lost'; readonly reason: LossReason }
  | { readonly kind: 'closed' };

/** State events, delivered only on change. */
export type ElectionEvent =
  /** This process became leader. */
  | { readonly type: 'elected'; readonly id: string; readonly token: bigint }
  /** This process lost or resigned leadership. */
  | { readonly type: 'lost'; readonly id: string; readonly token: bigint; readonly reason: LossReason; readonly error: LeadershipLostError }
  /** Connection trouble: leadership holds until `deadline`, then is lost unless contact resumes. */
  | { readonly type: 'suspended'; readonly deadline: number }
  /** Contact with the server resumed before the deadline. */
  | { readonly type: 'resumed' }
  /** The leader changed to someone else (or to nobody). */
  | { readonly type: 'leader'; readonly leader: LeaderInfo | undefined };

/**
 * One election on one connection. Many candidates and observers may share it.
 */
export interface Election {
  /** The election name as given (ZooKeeper latch path or etcd key prefix). */
  readonly name: string;
  /**
   * Joins the queue and resolves with a `Leadership` once this candidate is
   * the leader. Rejects with `AbortError` if `signal` aborts first, with
   * `ClosedError` after `close()`, with `InvalidOptionError` for a bad id —
   * and in every rejection our entry is removed from the server. A session
   * lost while waiting does not reject: the campaign re-enters the queue with
   * a fresh entry on the new session (a stale entry never becomes leader).
   */
  campaign(options: CampaignOptions): Promise<Leadership>;
  /**
   * The current leader, read from the server, or undefined when nobody leads.
   * etcd's reads are linearizable. ZooKeeper answers from the server this
   * connection uses, in order for this connection but not across
   * connections: on an ensemble, another process's change may show a moment
   * later than that process saw it.
   */
  leader(options?: SignalOptions): Promise<LeaderInfo | undefined>;
  /** The queue in election order (the first one leads); read as `leader()` is. */
  candidates(options?: SignalOptions): Promise<CandidateInfo[]>;
  /**
   * Leader changes: first the current leader (or undefined), then each change
   * once and in order, including "no leader" (undefined) and value changes:
   * never a leader twice in a row, never one that did not lead, and the last
   * value yielded is the leader as of the backend's latest reading. How fine
   * the changes are depends on the backend: etcd yields every change, by
   * revision; ZooKeeper's one-shot watches see the state when they are
   * re-read, so changes quicker than a round trip may arrive merged into the
   * last of them (A → B → C yields A, C). Ends when `signal` aborts or the
   * election closes; throws an `ElectError` when it cannot go on (it never
   * ends silently on failure).
   */
  observe(options?: SignalOptions): AsyncIterable<LeaderInfo | undefined>;
  /** This election's state events (`elected`, `lost`, `suspended`, `resumed`, `leader`) from now on. */
  events(options?: SignalOptions): AsyncIterable<ElectionEvent>;
  /**
   * Asks the current leader — in any process — to hand leadership to the
   * waiting candidate `to` (priority elections only). The leader's signal
   * aborts with reason `handover`; once its work has stopped (it resigns:
   * `runWhileLeader` and `elect run` do), or at the latest its session
   * timeout later, `to` leads. Resolves with the new leader once `to` leads;
   * rejects with `InvalidOptionError` when nobody leads, `to` is not waiting,
   * or the election is not a priority election, and with the signal's reason
   * when `signal` aborts first.
   */
  handover(options: HandoverOptions & { to: string }): Promise<LeaderInfo>;
  /**
   * Resigns every leadership, aborts every campaign (they reject with
   * `ClosedError`), ends observers, and deletes everything this election
   * created. A leader handing over stops waiting for the chosen candidate to
   * take over: its entry goes, and whoever is first in line leads.
   * Idempotent. Does not close a connection the caller passed in.
   */
  close(): Promise<void>;
}
