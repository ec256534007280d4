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
   * leadership ends, whichever comes first. A supervisor uses it to start
   * stopping its work early enough that the work is gone by the deadline.
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
  /** The current leader, read from the server, or undefined when nobody leads. */
  leader(options?: SignalOptions): Promise<LeaderInfo | undefined>;
  /** The queue in election order (the first one leads). */
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
   * Resigns every leadership, aborts every campaign (they reject with
   * `ClosedError`), ends observers, and deletes everything this election
   * created. Idempotent. Does not close a connection the caller passed in.
   */
  close(): Promise<void>;
}
