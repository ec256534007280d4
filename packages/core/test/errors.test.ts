import { describe, expect, it } from '@jest/globals';
import {
  AbortError,
  BackendError,
  PermissionDeniedError,
  ClosedError,
  ConnectionError,
  ElectError,
  ErrorCode,
  InvalidOptionError,
  LeadershipLostError,
  NotLeaderError,
  SessionExpiredError,
  TimeoutError,
  abortReason,
  isElectError,
} from '@elect/core';

describe('errors', () => {
  it('every class has a stable code, its own name, and a retryable flag', () => {
    const cases: [ElectError, string, string, boolean][] = [
      [new AbortError(), 'AbortError', ErrorCode.Aborted, false],
      [new ClosedError(), 'ClosedError', ErrorCode.Closed, false],
      [new InvalidOptionError('id', 'bad'), 'InvalidOptionError', ErrorCode.InvalidOption, false],
      [new ConnectionError('down'), 'ConnectionError', ErrorCode.Connection, true],
      [new TimeoutError('slow'), 'TimeoutError', ErrorCode.Timeout, true],
      [new SessionExpiredError(), 'SessionExpiredError', ErrorCode.SessionExpired, true],
      [new NotLeaderError(), 'NotLeaderError', ErrorCode.NotLeader, false],
      [new BackendError('odd'), 'BackendError', ErrorCode.Backend, false],
      [new PermissionDeniedError('no'), 'PermissionDeniedError', ErrorCode.PermissionDenied, false],
    ];
    for (const [error, name, code, retryable] of cases) {
      expect(error).toBeInstanceOf(ElectError);
      expect(error).toBeInstanceOf(Error);
      expect({ name: error.name, code: error.code, retryable: error.retryable }).toEqual({ name, code, retryable });
      expect(isElectError(error)).toBe(true);
    }
  });

  it('InvalidOptionError names the option in its message', () => {
    const error = new InvalidOptionError('sessionTimeoutMs', 'must be positive');
    expect(error.option).toBe('sessionTimeoutMs');
    expect(error.message).toBe('Invalid option "sessionTimeoutMs": must be positive');
  });

  it('LeadershipLostError: retryable after trouble, not after resign or close; keeps its cause', () => {
    const cause = new Error('why');
    expect(new LeadershipLostError('deadline', 'm', { cause })).toMatchObject({ retryable: true, cause, reason: 'deadline' });
    expect(new LeadershipLostError('session-expired', 'm').retryable).toBe(true);
    expect(new LeadershipLostError('deleted', 'm').retryable).toBe(true);
    expect(new LeadershipLostError('resigned', 'm').retryable).toBe(false);
    expect(new LeadershipLostError('closed', 'm').retryable).toBe(false);
    expect(new ConnectionError('x', { retryable: false }).retryable).toBe(false);
  });

  it('isElectError recognises an error from a duplicate install by name and code', () => {
    // What a second copy of @elect/core would throw: other classes, same shape.
    class OtherElectError extends Error {
      code = 'ELECT_NOT_LEADER';
      retryable = false;
    }
    class OtherNotLeaderError extends OtherElectError {
      override name = 'NotLeaderError';
    }
    const foreign = new OtherNotLeaderError('from the other copy');
    expect(foreign).not.toBeInstanceOf(ElectError);
    expect(isElectError(foreign)).toBe(true);
    expect(isElectError({ name: 'AbortError', code: 'ELECT_ABORTED' })).toBe(true);
    expect(isElectError({ name: 'AbortError', code: 'ABORT_ERR' })).toBe(false);
    expect(isElectError({ name: 'Whatever', code: 'ELECT_ABORTED' })).toBe(false);
    expect(isElectError(new Error('plain'))).toBe(false);
    expect(isElectError(null)).toBe(false);
    expect(isElectError('ELECT_ABORTED')).toBe(false);
  });

  it('abortReason: our own reason as is, anything else wrapped in an AbortError', () => {
    const ours = new ClosedError();
    expect(abortReason(AbortSignal.abort(ours))).toBe(ours);
    const foreign = AbortSignal.abort(new Error('user pressed stop'));
    const wrapped = abortReason(foreign, 'The campaign');
    expect(wrapped).toMatchObject({ name: 'AbortError', code: ErrorCode.Aborted, message: 'The campaign was aborted' });
    expect(wrapped.cause).toBe(foreign.reason);
    expect(abortReason(AbortSignal.abort()).name).toBe('AbortError');
  });
});
