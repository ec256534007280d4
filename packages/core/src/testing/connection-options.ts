/**
 * The options of `MemoryServer#connect()`, validated in one place with their
 * defaults: bad values are refused before a session is opened.
 */
import type { Clock } from '../clock.js';
import { defaultSafetyMarginMs } from '../deadline.js';
import { InvalidOptionError } from '../errors.js';
import type { Logger } from '../logger.js';
import { durationOption, knownKeys, sessionSettings } from '../options.js';
import type { SessionTelemetry } from '../telemetry.js';

/** Options of `MemoryServer#connect()`; validated, unknown keys refused, durations in ms. */
export interface MemoryConnectionOptions {
  /** How long the server keeps the session after it last heard from us. Default 10 000 ms. */
  sessionTimeoutMs?: number;
  /** How much earlier than the server the client gives up. Default `defaultSafetyMarginMs(sessionTimeoutMs)`. */
  safetyMarginMs?: number;
  /** How often the client heartbeats its session. Default a third of the session timeout. */
  heartbeatIntervalMs?: number;
  /** The client's clock. Defaults to the server's: share one clock so deadlines and expiries agree. */
  clock?: Clock;
  /** Receives `{ event: 'wake' }` at debug for each woken candidate, and losses, suspensions, expiries. */
  logger?: Logger;
  /** Told the session's status and each heartbeat's round trip (e.g. `@elect/metrics`). */
  telemetry?: SessionTelemetry;
}

export type ConnectionSettings = Required<Omit<MemoryConnectionOptions, 'telemetry'>> & { telemetry: SessionTelemetry | undefined };

/** Validated settings with defaults; throws `InvalidOptionError` naming the option. */
export function connectionSettings(options: unknown, serverClock: Clock): ConnectionSettings {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'must be an object');
  knownKeys('MemoryServer#connect()', options, ['sessionTimeoutMs', 'safetyMarginMs', 'heartbeatIntervalMs', 'clock', 'logger', 'telemetry']);
  const o = options as Record<string, unknown>;
  const sessionTimeoutMs = durationOption('sessionTimeoutMs', o.sessionTimeoutMs, 10_000, { min: 1 });
  const { safetyMarginMs = defaultSafetyMarginMs(sessionTimeoutMs), ...rest } = sessionSettings(o, sessionTimeoutMs, serverClock);
  // A heartbeat must land before the deadline it is meant to push out.
  const room = sessionTimeoutMs - safetyMarginMs;
  const heartbeatIntervalMs = durationOption('heartbeatIntervalMs', o.heartbeatIntervalMs, Math.max(1, Math.floor(sessionTimeoutMs / 3)), {
    min: 1,
    max: Math.max(1, room - 1),
  });
  return { sessionTimeoutMs, safetyMarginMs, heartbeatIntervalMs, ...rest };
}
