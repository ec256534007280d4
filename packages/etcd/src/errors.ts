/**
 * etcd3 and gRPC errors mapped onto core's typed errors, so callers branch on
 * `code` and `retryable` instead of on a client library's class names.
 */
import {
  BackendError,
  ClosedError,
  ConnectionError,
  ElectError,
  TimeoutError,
  isElectError,
} from '@elect/core';
import {
  ClientClosedError,
  EtcdAuthenticationFailedError,
  EtcdPermissionDeniedError,
  GRPCDeadlineExceededError,
  isRecoverableError,
} from 'etcd3';

/**
 * True when the same call may succeed on another try or another member: the
 * network, a member that is down or hung, a raft leader election in progress.
 * etcd3 marks those "recoverable".
 */
export function isTransient(error: unknown): boolean {
  if (isElectError(error)) return error.retryable;
  return error instanceof Error && isRecoverableError(error);
}

/** The ElectError for a failed call to etcd; `what` names the call. */
export function toElectError(error: unknown, what: string): ElectError {
  if (isElectError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof GRPCDeadlineExceededError) {
    return new TimeoutError(`${what}: no answer from etcd within the operation timeout`, { cause: error });
  }
  if (error instanceof ClientClosedError) return new ClosedError(`${what}: the connection is closed`, { cause: error });
  if (error instanceof EtcdAuthenticationFailedError || error instanceof EtcdPermissionDeniedError) {
    return new BackendError(`${what}: ${message}`, { cause: error, retryable: false });
  }
  if (isTransient(error)) return new ConnectionError(`${what}: ${message}`, { cause: error });
  return new BackendError(`${what}: ${message}`, { cause: error, retryable: false });
}

/** etcd says the lease does not exist (revoked or expired). */
export function isLeaseNotFound(error: unknown): boolean {
  return error instanceof Error && error.message.includes('requested lease not found');
}

/** The request cannot have reached etcd: no connection was ever established for it. */
export function neverSent(error: unknown): boolean {
  const text = error instanceof Error ? `${error.message} ${String((error as { cause?: unknown }).cause ?? '')}` : String(error);
  return /No connection established|ECONNREFUSED/.test(text);
}

/** etcd refused the auth token (expired simple token, or restarted server). */
export function isAuthTokenInvalid(error: unknown): boolean {
  const text = error instanceof Error ? error.message : String(error);
  return text.includes('invalid auth token');
}
