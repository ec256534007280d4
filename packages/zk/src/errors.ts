/**
 * ZooKeeper error codes we branch on, and their mapping onto core's typed
 * errors. The library's own exception stays reachable as `cause`, and
 * `zkCode()` reads its code back, so callers branch on numbers, never on
 * message text.
 */
import { BackendError, ConnectionError, ElectError, InvalidOptionError, PermissionDeniedError, SessionExpiredError } from '@elect/core';

/** The subset of ZooKeeper's KeeperException codes this package handles. */
export const ZkCode = {
  ConnectionLoss: -4,
  NoNode: -101,
  NoAuth: -102,
  BadVersion: -103,
  NodeExists: -110,
  NotEmpty: -111,
  SessionExpired: -112,
  InvalidAcl: -114,
  AuthFailed: -115,
} as const;

interface LibraryException {
  code: number;
  name: string;
  message?: string;
}

function isLibraryException(value: unknown): value is LibraryException {
  return typeof value === 'object' && value !== null && typeof (value as { code?: unknown }).code === 'number';
}

/** The ZooKeeper code behind an error from `ZkClient`, if it came from the server or the library. */
export function zkCode(error: unknown): number | undefined {
  if (isLibraryException(error)) return error.code;
  if (error instanceof ElectError && isLibraryException(error.cause)) return error.cause.code;
  return undefined;
}

/** Wraps what the library calls back with into an `ElectError` that says whether retrying helps. */
export function toElectError(error: unknown): ElectError {
  if (error instanceof ElectError) return error;
  if (!isLibraryException(error)) {
    return new BackendError(`ZooKeeper client failed: ${String(error)}`, { cause: error });
  }
  const text = `ZooKeeper: ${error.name ?? error.code}${error.message ? ` (${error.message})` : ''}`;
  switch (error.code) {
    case ZkCode.ConnectionLoss:
      return new ConnectionError(text, { cause: error });
    case ZkCode.SessionExpired:
      return new SessionExpiredError(text, { cause: error });
    case ZkCode.AuthFailed:
      return new ConnectionError(text, { cause: error, retryable: false });
    case ZkCode.InvalidAcl:
      // Checked before anything is sent where it can be (options.ts); the server has the last word on the rest (ip, sasl, …).
      return new InvalidOptionError('acl', 'ZooKeeper refused it (INVALID_ACL) for the election\'s nodes', { cause: error });
    case ZkCode.NoAuth:
      return new PermissionDeniedError(`ZooKeeper refused it (NO_AUTH): an ACL on the election's path does not allow it to this connection's credentials`, { cause: error });
    default:
      return new BackendError(text, { cause: error });
  }
}

/** True when `error` carries ZooKeeper code `code`. */
export function isZk(error: unknown, code: number): boolean {
  return zkCode(error) === code;
}
