/**
 * What a long-lived signal (a caller's shutdown signal, an election's) still
 * holds for operations joined to it. Once those operations have ended it
 * must hold nothing, or it grows with every operation for as long as it
 * lives: see `linkSignals` in `@elect/core/backend`.
 */
import { getEventListeners } from 'node:events';

/**
 * The entries `AbortSignal.any` has left on `signal` (Node's internal set of
 * dependants; 0 where there is none). On Node 20 nothing empties that set
 * while `signal` lives; Node 22 and later drop an entry once its joined
 * signal is collected.
 */
export function signalDependants(signal: AbortSignal): number {
  const key = Object.getOwnPropertySymbols(signal).find((symbol) => symbol.description === 'kDependantSignals');
  return key === undefined ? 0 : ((signal as unknown as Record<symbol, Set<unknown>>)[key]?.size ?? 0);
}

/** `signal`'s abort listeners and the `AbortSignal.any` entries left on it. */
export function signalHolds(signal: AbortSignal): { listeners: number; dependants: number } {
  return { listeners: getEventListeners(signal, 'abort').length, dependants: signalDependants(signal) };
}
