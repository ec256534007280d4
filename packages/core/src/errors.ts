/**
 * Typed errors. Every error this project throws or aborts a signal with is an
 * `ElectError`: a stable `code` to branch on, a `cause` when there is one, and
 * `retryable` saying whether trying the same thing again can help.
 *
 * Use `isElectError(e)` rather than `instanceof`: it also recognises errors
 * from a second copy of this package (duplicated installs), by name and code.
 */

export const ErrorCode = {
  /** A campaign (or other wait) was aborted through the caller's signal. */
  Aborted: 'ELECT_ABORTED',
  /** The election or its connection was closed by its owner. */
  Closed: 'ELECT_CLOSED',
  /** An option or election name is invalid; nothing was written. */
  InvalidOption: 'ELECT_INVALID_OPTION',
  /** The backend could not be reached (connect failed or timed out). */
  Connection: 'ELECT_CONNECTION',
  /** One operation did not complete within its deadline. */
  Timeout: 'ELECT_TIMEOUT',
  /** The session (ZooKeeper) or lease (etcd) is gone; its entries are gone with it. */
  SessionExpired: 'ELECT_SESSION_EXPIRED',
  /** Leadership ended; `reason` says why. The reason of `leadership.signal`. */
  LeadershipLost: 'ELECT_LEADERSHIP_LOST',
  /** An operation that needs leadership was called after it ended. */
  NotLeader: 'ELECT_NOT_LEADER',
  /** The server answered with an error we do not handle. */
  Backend: 'ELECT_BACKEND',
  /**
   * The server refused the operation to these credentials (a ZooKeeper ACL,
   * an etcd role without that key range): retrying cannot help; nothing of
   * that operation was written.
   */
  PermissionDenied: 'ELECT_PERMISSION_DENIED',
  /**
   * Candidates with and without a priority met in one election: the two
   * layouts cannot share it (see `MixedLayoutError`). Our entry was removed.
   */
  MixedLayout: 'ELECT_MIXED_LAYOUT',
  /**
   * `election.handover()`: another candidate came to lead, not the one asked
   * for (it left before taking over, or a preemptor came first).
   */
  HandoverFailed: 'ELECT_HANDOVER_FAILED',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const codes: ReadonlySet<string> = new Set(Object.values(ErrorCode));

export interface ElectErrorOptions {
  cause?: unknown;
  retryable?: boolean;
}

/** The base class of every error this project produces. */
export class ElectError extends Error {
  override name = 'ElectError';
  readonly code: ErrorCode;
  /** True when repeating the operation (perhaps after reconnecting) can succeed. */
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: ElectErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/**
 * A wait was aborted through the caller's AbortSignal. Its `name` is
 * `AbortError`, like the platform's own abort errors, so generic
 * `err.name === 'AbortError'` checks keep working.
 */
export class AbortError extends ElectError {
  override name = 'AbortError';
  constructor(message = 'The operation was aborted', options: ElectErrorOptions = {}) {
    super(ErrorCode.Aborted, message, options);
  }
}

export class ClosedError extends ElectError {
  override name = 'ClosedError';
  constructor(message = 'The election is closed', options: ElectErrorOptions = {}) {
    super(ErrorCode.Closed, message, options);
  }
}

/** A bad option or name, rejected before anything is written to the server. */
export class InvalidOptionError extends ElectError {
  override name = 'InvalidOptionError';
  /** The option at fault, e.g. `sessionTimeoutMs` or `name`. */
  readonly option: string;
  constructor(option: string, message: string, options: { cause?: unknown } = {}) {
    super(ErrorCode.InvalidOption, `Invalid option "${option}": ${message}`, options);
    this.option = option;
  }
}

export class ConnectionError extends ElectError {
  override name = 'ConnectionError';
  constructor(message: string, options: ElectErrorOptions = {}) {
    super(ErrorCode.Connection, message, { retryable: true, ...options });
  }
}

export class TimeoutError extends ElectError {
  override name = 'TimeoutError';
  constructor(message: string, options: ElectErrorOptions = {}) {
    super(ErrorCode.Timeout, message, { retryable: true, ...options });
  }
}

export class SessionExpiredError extends ElectError {
  override name = 'SessionExpiredError';
  constructor(message = 'The session has expired', options: ElectErrorOptions = {}) {
    super(ErrorCode.SessionExpired, message, { retryable: true, ...options });
  }
}

export class NotLeaderError extends ElectError {
  override name = 'NotLeaderError';
  constructor(message = 'This candidate is no longer the leader', options: ElectErrorOptions = {}) {
    super(ErrorCode.NotLeader, message, options);
  }
}

export class BackendError extends ElectError {
  override name = 'BackendError';
  constructor(message: string, options: ElectErrorOptions = {}) {
    super(ErrorCode.Backend, message, options);
  }
}

/** The server refused the operation to these credentials (see `ErrorCode.PermissionDenied`); never retryable. */
export class PermissionDeniedError extends ElectError {
  override name = 'PermissionDeniedError';
  constructor(message: string, options: Omit<ElectErrorOptions, 'retryable'> = {}) {
    super(ErrorCode.PermissionDenied, message, { ...options, retryable: false });
  }
}

/**
 * A priority election and a plain one (Curator's / etcdctl's layout) met on
 * one name. A plain peer cannot honour priorities, and a priority candidate
 * cannot follow a plain queue, so the campaign that finds the other layout
 * in the queue removes its entry and rejects with this error instead of
 * silently ignoring priorities. Give every candidate of an election a
 * priority, or none.
 */
export class MixedLayoutError extends ElectError {
  override name = 'MixedLayoutError';
  constructor(message: string, options: ElectErrorOptions = {}) {
    super(ErrorCode.MixedLayout, message, options);
  }
}

/** `election.handover()` saw another candidate come to lead than the one it asked for. */
export class HandoverFailedError extends ElectError {
  override name = 'HandoverFailedError';
  constructor(message: string, options: ElectErrorOptions = {}) {
    super(ErrorCode.HandoverFailed, message, options);
  }
}

/**
 * Why leadership ended:
 * - `resigned`: the leader called `resign()` (or disposed of the leadership);
 * - `deadline`: the connection was in trouble and the loss deadline passed
 *   before the server confirmed we are still alive;
 * - `session-expired`: the server said our session / lease is gone;
 * - `deleted`: our znode / key disappeared (someone deleted it; on etcd also
 *   a revoked lease, whose key's deletion is seen first and acted on at once);
 * - `closed`: the election or its connection was closed by its owner;
 * - `preempted`: a candidate of higher priority campaigning with `preempt`
 *   is waiting (priority elections only);
 * - `handover`: leadership is being handed to a chosen candidate
 *   (`leadership.handover()`, or `election.handover()` from anywhere).
 */
export type LossReason = 'resigned' | 'deadline' | 'session-expired' | 'deleted' | 'closed' | 'preempted' | 'handover';

/** The reason `leadership.signal` is aborted with. */
export class LeadershipLostError extends ElectError {
  override name = 'LeadershipLostError';
  readonly reason: LossReason;
  constructor(reason: LossReason, message: string, options: ElectErrorOptions = {}) {
    // Losing leadership through trouble is worth campaigning again for;
    // resigning or closing is what the owner asked for.
    super(ErrorCode.LeadershipLost, message, {
      retryable: reason !== 'resigned' && reason !== 'closed',
      ...options,
    });
    this.reason = reason;
  }
}

/** True for any error made by this project, including by another installed copy of it. */
export function isElectError(value: unknown): value is ElectError {
  if (value instanceof ElectError) return true;
  if (typeof value !== 'object' || value === null) return false;
  const { name, code } = value as { name?: unknown; code?: unknown };
  return typeof name === 'string' && typeof code === 'string' && codes.has(code) && name.endsWith('Error');
}

/** The error to reject with when `signal` aborted: its reason if that is ours, else an AbortError wrapping it. */
export function abortReason(signal: AbortSignal, what = 'The operation'): ElectError {
  const reason: unknown = signal.reason;
  if (isElectError(reason)) return reason;
  return new AbortError(`${what} was aborted`, { cause: reason });
}
