/**
 * Validation shared by every constructor: bad values are rejected at
 * construction time with a message naming the option, before anything is
 * written to a server.
 */
import { systemClock, type Clock } from './clock.js';
import { InvalidOptionError } from './errors.js';
import { silentLogger, type Logger } from './logger.js';
import { telemetryOption, type SessionTelemetry } from './telemetry.js';

export interface DurationRule {
  min?: number;
  max?: number;
}

/** A duration in ms: a finite number within [min, max]; `fallback` when undefined. */
export function durationOption(name: string, value: unknown, fallback: number, rule: DurationRule = {}): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidOptionError(name, `must be a number of milliseconds, got ${describe(value)}`);
  }
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = rule;
  if (value < min || value > max) {
    throw new InvalidOptionError(name, `must be between ${min} and ${max} ms, got ${value}`);
  }
  return value;
}

/** A non-empty string of at most `maxLength` characters, without line breaks or NUL. */
export function textOption(name: string, value: unknown, maxLength = 256): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidOptionError(name, `must be a non-empty string, got ${describe(value)}`);
  }
  if (value.length > maxLength) throw new InvalidOptionError(name, `must be at most ${maxLength} characters`);
  if (/[\r\n\0]/.test(value)) throw new InvalidOptionError(name, 'must not contain line breaks or NUL characters');
  return value;
}

/** A candidate id (see `CampaignOptions.id`). */
export function candidateId(value: unknown): string {
  return textOption('id', value, 256);
}

/** A proclaimed value: any string up to 64 KiB (it is stored next to the id). */
export function candidateValue(value: unknown, name = 'value'): string {
  if (typeof value !== 'string') throw new InvalidOptionError(name, `must be a string, got ${describe(value)}`);
  if (Buffer.byteLength(value) > 65_536) throw new InvalidOptionError(name, 'must be at most 64 KiB');
  return value;
}

/** Rejects unknown keys in an options object (catches typos like `sessionTimeout`). */
export function knownKeys(where: string, options: object, allowed: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new InvalidOptionError(key, `is not an option of ${where} (known: ${allowed.join(', ')})`);
    }
  }
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

/** True for an AbortSignal, including one from another realm (a vm context, a second copy of Node's globals). */
export function isAbortSignal(value: unknown): value is AbortSignal {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<AbortSignal>;
  return typeof candidate.aborted === 'boolean' && typeof candidate.addEventListener === 'function';
}

/** `signal` as an option: undefined or an AbortSignal. */
export function signalOption(value: unknown, name = 'signal'): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (!isAbortSignal(value)) throw new InvalidOptionError(name, `must be an AbortSignal, got ${describe(value)}`);
  return value;
}

/** A `Clock` option (`now` and `schedule`), or the system clock when absent. */
export function clockOption(value: unknown, name = 'clock'): Clock {
  if (value === undefined) return systemClock;
  const clock = value as Partial<Clock> | null;
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function' || typeof clock.schedule !== 'function') {
    throw new InvalidOptionError(name, `must be a Clock (now() and schedule()), got ${describe(value)}`);
  }
  return value as Clock;
}

/** What `campaign()` was asked for, validated. `priority` is undefined in a plain election. */
export interface CampaignRequest {
  id: string;
  value: string;
  signal: AbortSignal | undefined;
  priority: number | undefined;
  preempt: boolean;
}

/** The highest priority: ZooKeeper's and Kubernetes' 32-bit integers. */
export const MAX_PRIORITY = 2_147_483_647;

/** Validated `campaign()` options: only known keys, a valid id, the value (defaulting to the id), the signal, the priority. */
export function campaignOptions(options: unknown): CampaignRequest {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', `must be an object with at least an id, got ${describe(options)}`);
  }
  knownKeys('campaign()', options, ['id', 'value', 'signal', 'priority', 'preempt']);
  const { id, value, signal, priority, preempt } = options as Record<string, unknown>;
  const validId = candidateId(id);
  return {
    id: validId,
    value: value === undefined ? validId : candidateValue(value),
    signal: signalOption(signal),
    ...priorityOptions(priority, preempt),
  };
}

/** `priority` (an integer 0..2147483647, or undefined) and `preempt` (a boolean, only with a priority). */
export function priorityOptions(priority: unknown, preempt: unknown): { priority: number | undefined; preempt: boolean } {
  if (priority !== undefined && (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0 || priority > MAX_PRIORITY)) {
    throw new InvalidOptionError('priority', `must be an integer from 0 to ${MAX_PRIORITY}, got ${describe(priority)}`);
  }
  if (preempt !== undefined && typeof preempt !== 'boolean') throw new InvalidOptionError('preempt', `must be a boolean, got ${describe(preempt)}`);
  if (preempt === true && priority === undefined) {
    throw new InvalidOptionError('preempt', 'needs a priority: only a priority election can preempt its leader');
  }
  return { priority, preempt: preempt === true };
}

/** Validated `handover()` options: `to` (a candidate id); `election.handover()` (`required`) also takes `signal`. */
export function handoverOptions(where: string, options: unknown, required: boolean): { to: string | undefined; signal: AbortSignal | undefined } {
  if (options === undefined && !required) return { to: undefined, signal: undefined };
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', `must be an object${required ? ' with the id to hand over to (to)' : ''}, got ${describe(options)}`);
  }
  // A leadership's own handover() has nothing to wait for that a signal could cut short.
  knownKeys(where, options, required ? ['to', 'signal'] : ['to']);
  const { to, signal } = options as Record<string, unknown>;
  if (to === undefined && required) throw new InvalidOptionError('to', 'is required: the id of the waiting candidate to lead next');
  return { to: to === undefined ? undefined : textOption('to', to, 256), signal: signalOption(signal) };
}

/** Validated `{ signal }` options of reads (`leader()`, `candidates()`, `observe()`, `events()`). */
export function readOptions(where: string, options: unknown): AbortSignal | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', `must be an object, got ${describe(options)}`);
  knownKeys(where, options, ['signal']);
  return signalOption((options as { signal?: unknown }).signal);
}

/** A `Logger` (debug / info / warn / error), or `silentLogger` when none is given. */
export function loggerOption(value: unknown): Logger {
  if (value === undefined) return silentLogger;
  const methods = ['debug', 'info', 'warn', 'error'] as const;
  if (typeof value !== 'object' || value === null || methods.some((m) => typeof (value as Record<string, unknown>)[m] !== 'function')) {
    throw new InvalidOptionError('logger', `must have debug, info, warn and error methods, got ${describe(value)}`);
  }
  return value as Logger;
}

/** What every connection takes besides its servers (`connectZooKeeper`, `connectEtcd`, `MemoryServer#connect`), validated. */
export interface SessionSettings {
  /** Undefined: derived from the timeout the server grants (`defaultSafetyMarginMs`). */
  safetyMarginMs: number | undefined;
  logger: Logger;
  clock: Clock;
  telemetry: SessionTelemetry | undefined;
}

/**
 * `safetyMarginMs` (below `timeoutMs`, the session timeout or TTL asked for),
 * `logger`, `clock` (`fallbackClock` when absent) and `telemetry`: each
 * checked by the one validator every backend uses.
 */
export function sessionSettings(options: Record<string, unknown>, timeoutMs: number, fallbackClock: Clock = systemClock): SessionSettings {
  const { safetyMarginMs, logger, clock, telemetry } = options;
  return {
    safetyMarginMs: safetyMarginMs === undefined ? undefined : durationOption('safetyMarginMs', safetyMarginMs, 0, { max: timeoutMs - 1 }),
    logger: loggerOption(logger),
    clock: clock === undefined ? fallbackClock : clockOption(clock),
    telemetry: telemetryOption(telemetry),
  };
}

/** A client's `connectTimeoutMs` (default 10 000) and `operationTimeoutMs` (default 5 000), each at least 1 ms. */
export function requestTimeouts(options: Record<string, unknown>): { connectTimeoutMs: number; operationTimeoutMs: number } {
  return {
    connectTimeoutMs: durationOption('connectTimeoutMs', options.connectTimeoutMs, 10_000, { min: 1 }),
    operationTimeoutMs: durationOption('operationTimeoutMs', options.operationTimeoutMs, 5_000, { min: 1 }),
  };
}
