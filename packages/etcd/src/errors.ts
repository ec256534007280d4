/**
 * gRPC failures mapped onto core's typed errors, so callers branch on `code`
 * and `retryable` instead of on status numbers and server messages.
 */
import {
  BackendError,
  ClosedError,
  ConnectionError,
  ElectError,
  PermissionDeniedError,
  TimeoutError,
  isElectError,
} from '@elect/core';
import { ChannelClosedError, GrpcError, Status } from './wire/grpc.js';

/**
 * gRPC statuses worth another try, here or on another member: the network or
 * a member that is down, hung or busy, and a raft leader election in
 * progress (etcd answers UNAVAILABLE or DEADLINE_EXCEEDED then). The same set
 * the etcd3 client treats as recoverable.
 */
const transientStatuses = new Set<number>([
  Status.CANCELLED,
  Status.UNKNOWN,
  Status.DEADLINE_EXCEEDED,
  Status.RESOURCE_EXHAUSTED,
  Status.ABORTED,
  Status.INTERNAL,
  Status.UNAVAILABLE,
]);

/** True when the same call may succeed on another try or another member. */
export function isTransient(error: unknown): boolean {
  if (isElectError(error)) return error.retryable;
  return error instanceof GrpcError && !(error instanceof ChannelClosedError) && transientStatuses.has(error.code);
}

/** The ElectError for a failed call to etcd; `what` names the call. */
export function toElectError(error: unknown, what: string): ElectError {
  if (isElectError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof GrpcError && error.code === Status.DEADLINE_EXCEEDED) {
    return new TimeoutError(`${what}: no answer from etcd within the operation timeout`, { cause: error });
  }
  if (error instanceof ChannelClosedError) return new ClosedError(`${what}: the connection is closed`, { cause: error });
  if (isTransient(error)) return new ConnectionError(`${what}: ${message}`, { cause: error });
  if (error instanceof GrpcError && error.code === Status.PERMISSION_DENIED) return permissionDenied(what, message, error);
  return new BackendError(`${what}: ${message}`, { cause: error, retryable: false });
}

/** etcd refused `what` to our user: its roles do not cover that key range. */
export function permissionDenied(what: string, message: string, cause?: unknown): PermissionDeniedError {
  return new PermissionDeniedError(`etcd refused ${what} (${message}): the user's roles do not allow it on the election's keys`, { cause });
}

/**
 * etcd refuses us, not the moment: permission denied, credentials it will
 * not take. Other failures of a call that cannot fail by its content (a
 * lease grant) are worth another try, even when not transient — a grant
 * retried after an answer was lost finds "lease already exists".
 */
export function isRefusal(error: unknown): boolean {
  const grpc = grpcErrorOf(error);
  if (grpc === undefined) return false;
  return (
    grpc.code === Status.PERMISSION_DENIED ||
    grpc.code === Status.UNAUTHENTICATED ||
    /authentication failed|user name is empty/.test(grpc.details)
  );
}

function grpcErrorOf(error: unknown): GrpcError | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof GrpcError) return e;
  }
  return undefined;
}

/** etcd says the lease does not exist (revoked or expired). */
export function isLeaseNotFound(error: unknown): boolean {
  return error instanceof Error && error.message.includes('requested lease not found');
}

/** etcd already has a lease with the id a grant asked for. */
export function isLeaseExists(error: unknown): boolean {
  return error instanceof Error && error.message.includes('lease already exists');
}

/** The request cannot have reached etcd: no connection was ever established for it. */
export function neverSent(error: unknown): boolean {
  const text = error instanceof Error ? `${error.message} ${String((error as { cause?: unknown }).cause ?? '')}` : String(error);
  return /No connection established|ECONNREFUSED/.test(text);
}

/** etcd refused the auth token (see wire/client.ts): authenticate again and retry. */
export { isInvalidToken as isAuthTokenInvalid } from './wire/client.js';
