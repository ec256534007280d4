/**
 * What a connection tells about its session, for metrics: a connection
 * option (`telemetry`) of every backend. `@elect/metrics` implements it on
 * prom-client; anything else may. Calls are synchronous and must not throw.
 */
import type { SessionStatus } from './liveness.js';
import { InvalidOptionError } from './errors.js';

export interface SessionTelemetry {
  /** The session's status, once when it opens (`live`) and on every change. */
  sessionStatus?(status: SessionStatus): void;
  /** A heartbeat (ZooKeeper) or keepalive (etcd) was answered `ms` after it was sent. */
  roundTrip?(ms: number): void;
}

/** Checks a `telemetry` option: an object whose members, if given, are functions. */
export function telemetryOption(value: unknown): SessionTelemetry | undefined {
  if (value === undefined) return undefined;
  const t = value as Record<string, unknown> | null;
  if (typeof t !== 'object' || t === null) throw new InvalidOptionError('telemetry', 'must be an object with sessionStatus() and/or roundTrip()');
  for (const key of ['sessionStatus', 'roundTrip']) {
    if (t[key] !== undefined && typeof t[key] !== 'function') throw new InvalidOptionError('telemetry', `${key} must be a function`);
  }
  return t as SessionTelemetry;
}
