/**
 * The keepalive's pace for a lease TTL, and what it costs: how far ahead a
 * healthy lease keeps its loss deadline. No dependencies beyond core, so that
 * a caller can plan (`elect` checks `--grace`) without loading the etcd
 * client and its protocol definitions (`@elect/etcd/pacing`).
 */
import { defaultSafetyMarginMs } from '@elect/core/backend';

/** A keepalive every TTL / 3 while answered (at least 100 ms apart). */
export function keepAliveIntervalMs(ttlMs: number): number {
  return Math.max(100, Math.floor(ttlMs / 3));
}

/**
 * The least time a healthy lease keeps between now and its loss deadline,
 * round trips aside: about 0.57 × the TTL. A `signalAhead(lead)` with a
 * longer lead fires while nothing is wrong; leave room for round trips and
 * late timers on top. In steady state the last answered keepalive is at most
 * one interval old when the next is answered, and the deadline sits a margin
 * before expiry. `ttlMs` is the TTL the lease has: etcd's are whole seconds.
 */
export function steadyLeadMs(ttlMs: number, safetyMarginMs: number = defaultSafetyMarginMs(ttlMs)): number {
  return ttlMs - safetyMarginMs - keepAliveIntervalMs(ttlMs);
}
